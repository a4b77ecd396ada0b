"""omniret: offline-first omni-modal retrieval (OmniRet).

Importing this package loads torch and numpy only, prints nothing and never downloads.
Heavy parts (transformers, peft, media decoding, the index, the server) import lazily.
"""

from __future__ import annotations

from omniret.config import (
    ComposerConfig,
    ConfigError,
    LoraConfig,
    LossConfig,
    ModelConfig,
    PoolerConfig,
    ResamplerConfig,
    TowerConfig,
    load_config,
    preset_names,
)
from omniret.extras import require
from omniret.inputs import OmniInput
from omniret.model import Media, OmniRet, Sample
from omniret.version import __version__

__all__ = [
    "ComposerConfig",
    "ConfigError",
    "LoraConfig",
    "LossConfig",
    "Media",
    "ModelConfig",
    "OmniInput",
    "OmniRet",
    "PoolerConfig",
    "ResamplerConfig",
    "Sample",
    "TowerConfig",
    "__version__",
    "build_model",
    "load_config",
    "load_model",
    "preset_names",
]


def build_model(source: str = "omniret-small", overrides: list[str] | tuple[str, ...] = ()) -> OmniRet:
    """Build an OmniRet from a preset name or YAML file (random weights where no local path is set)."""
    return OmniRet.build(load_config(source, overrides))


def load_model(source: str = "omniret-small", **kwargs):
    """A ready-to-encode model: preset name, checkpoint dir, YAML file or 'bridge-caption' (see omniret.api)."""
    return require("media", "omniret.api").load_model(source, **kwargs)
