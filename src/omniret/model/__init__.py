"""OmniRet model code: imports with torch (and numpy) only; transformers/peft load lazily."""

from omniret.inputs.sample import Media, Sample, normalize_text, render
from omniret.model.aswp import ASWP, straight_through_max
from omniret.model.composer import Composer
from omniret.model.omniret import EmbedOutput, OmniRet
from omniret.model.poolers import POOLERS, MultiVectorPooler, TokenPooler, build_pooler
from omniret.model.projector import Projector
from omniret.model.resampler import SeparateMediaResamplers, SharedMediaResampler, interpolate_video
from omniret.towers import TOWERS, Tower, build_tower

__all__ = [
    "ASWP",
    "POOLERS",
    "TOWERS",
    "Composer",
    "EmbedOutput",
    "Media",
    "MultiVectorPooler",
    "OmniRet",
    "Projector",
    "Sample",
    "SeparateMediaResamplers",
    "SharedMediaResampler",
    "TokenPooler",
    "Tower",
    "build_pooler",
    "build_tower",
    "interpolate_video",
    "normalize_text",
    "render",
    "straight_through_max",
]
