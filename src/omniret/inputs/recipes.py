"""Preprocessing recipes as hashed data.

Every tower declares how raw media become its input (size, crop, scaling, sample rate, mel
window). The recipe's hash keys the feature cache and is recorded with every index and
checkpoint, so features made with one recipe are never mixed with another's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRecipe:
    size: int = 224  # square input side
    resize: str = (
        "shorter-crop"  # "shorter-crop": resize shorter side to size/crop_ratio, centre crop; "squash"
    )
    crop_ratio: float = 0.875
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # (x/255 - mean)/std; 0.5/0.5 -> [-1, 1]
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    background: str = "white"  # alpha is composited on this (clip art is mostly transparent)


@dataclass(frozen=True)
class AudioRecipe:
    sample_rate: int = 16000
    n_mels: int = 80
    n_fft: int = 400
    hop_length: int = 160  # 100 mel frames per second
    window_seconds: float = 30.0  # tower window; longer audio is encoded window by window


def recipe_dict(recipe) -> dict:
    return {"type": type(recipe).__name__, **dataclasses.asdict(recipe)}


def recipe_hash(*recipes) -> str:
    """A short stable hash of one or more recipes (and plain dicts of extra settings)."""
    data = [r if isinstance(r, dict) else recipe_dict(r) for r in recipes]
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
