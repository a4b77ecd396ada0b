"""The tower contract and its registry: pixels or log-mels in, token sequences (B, N, d) + a mask out.

Each tower declares its modality family, token width and (for vision) token grid so video frames
can be laid out as a (T, H, W) grid. Towers are frozen: built in eval mode with gradients off and
always run under ``no_grad`` by the model. The kinds live beside this file and register themselves
(``standins``, ``packaged``, ``hf``); ``omniret.towers`` imports them all, so ``build_tower`` sees
every kind whichever module is imported first.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from omniret.assets import resolve
from omniret.config import TowerConfig
from omniret.inputs.modality import Family
from omniret.inputs.recipes import AudioRecipe, ImageRecipe, recipe_hash
from omniret.registry import Registry

TOWERS: Registry = Registry("tower")
MEL_FRAMES_PER_SECOND = 100  # 16 kHz audio, hop 160


class Tower(nn.Module):
    """Base class: ``forward(x, lengths=None) -> (tokens (B, N, d), mask (B, N) bool | None)``."""

    modality: str = Family.VISION
    dim: int = 0
    grid: tuple[int, int] | None = None
    recipe: ImageRecipe | AudioRecipe = ImageRecipe()
    tower_id: str = ""  # identifies the weights; empty for random weights (never cached)

    def freeze(self) -> Tower:
        self.eval()
        self.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> Tower:  # frozen towers never leave eval mode
        return super().train(False)


def frames_to_mask(
    lengths: torch.Tensor | None, n: int, stride: int, batch: int, device
) -> torch.Tensor | None:
    if lengths is None:
        return None
    n_valid = torch.div(lengths + stride - 1, stride, rounding_mode="floor").clamp(1, n)  # ceil
    return torch.arange(n, device=device)[None, :] < n_valid.to(device)[:, None]  # (B, N)


def build_tower(cfg: TowerConfig, *, load_weights: bool = True) -> Tower:
    """Build a frozen tower; ``load_weights=False`` gives the same architecture with random weights."""
    if not load_weights and cfg.path is not None:
        cfg = replace(cfg, path=None)
    tower = TOWERS.get(cfg.kind)(cfg)
    if tower.dim != cfg.dim:
        raise ValueError(
            f"towers.{cfg.modality}: built tower has width {tower.dim}, config says dim={cfg.dim}"
        )
    tower.recipe = recipe_of(cfg)
    tower.tower_id = tower_id(cfg)
    return tower.freeze()


def tower_id(cfg: TowerConfig) -> str:
    """Names the weights and how they are read (cache keys and checkpoint hashes use it); empty for
    random weights, which are never cached. Computed from the config alone, without building."""
    identity = {"layer": cfg.feature_layer, "pool": cfg.pool_stride, "hf": cfg.hf_config}
    return f"{cfg.kind}:{cfg.path}:{recipe_hash(identity)}" if cfg.path else ""


def recipe_of(cfg: TowerConfig) -> ImageRecipe | AudioRecipe:
    """The preprocessing recipe of a tower, from its config alone (no weights are read)."""
    if cfg.modality == "audio":
        return AudioRecipe(n_mels=cfg.n_mels)
    if cfg.kind == "hf-vision" and cfg.path:
        return _hf_image_recipe(resolve(cfg.path, what="towers.vision.path"), cfg.image_size)
    return ImageRecipe(size=cfg.image_size)


def _hf_image_recipe(path: Path, size: int) -> ImageRecipe:
    """Read size/mean/std/cropping from a Hugging Face preprocessor_config.json when present."""
    file = path / "preprocessor_config.json"
    if not file.is_file():
        return ImageRecipe(size=size, resize="squash")
    pre = json.loads(file.read_text())
    crop = pre.get("do_center_crop", False)
    return ImageRecipe(
        size=size,
        resize="shorter-crop" if crop else "squash",
        mean=tuple(pre.get("image_mean", (0.5, 0.5, 0.5))),
        std=tuple(pre.get("image_std", (0.5, 0.5, 0.5))),
    )
