"""Random stand-ins of exactly the declared shapes: what shape tests, parameter counts and configs
without local weights use (``kind: stand-in``, and the Whisper kind when no path is set)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omniret.config import TowerConfig
from omniret.inputs.modality import Family
from omniret.towers.base import MEL_FRAMES_PER_SECOND, TOWERS, Tower, frames_to_mask


class StandInVisionTower(Tower):
    """Random patchify conv with the declared grid and width: (B, 3, S, S) -> (B, gh*gw, d)."""

    def __init__(self, *, dim: int, grid: tuple[int, int], image_size: int) -> None:
        super().__init__()
        self.modality, self.dim, self.grid = Family.VISION, dim, tuple(grid)
        patch = image_size // grid[0]
        self.conv = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        tokens = self.conv(x)  # (B, d, gh, gw)
        return tokens.flatten(2).transpose(1, 2), None  # (B, gh*gw, d)


class StandInAudioTower(Tower):
    """Random strided conv over log-mels at the declared token rate: (B, n_mels, F) -> (B, N, d)."""

    def __init__(self, *, dim: int, n_mels: int, tokens_per_second: float) -> None:
        super().__init__()
        self.modality, self.dim = Family.AUDIO, dim
        self.stride = max(1, round(MEL_FRAMES_PER_SECOND / tokens_per_second))
        self.conv = nn.Conv1d(n_mels, dim, kernel_size=self.stride, stride=self.stride)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        pad = (-x.shape[-1]) % self.stride
        tokens = self.conv(F.pad(x, (0, pad))).transpose(1, 2)  # (B, N, d)
        return tokens, frames_to_mask(lengths, tokens.shape[1], self.stride, x.shape[0], x.device)


def stand_in(cfg: TowerConfig) -> Tower:
    if cfg.modality == "vision":
        if cfg.grid is None:
            raise ValueError(f"vision tower {cfg.kind!r} needs a token grid (towers.vision.grid)")
        return StandInVisionTower(dim=cfg.dim, grid=cfg.grid, image_size=cfg.image_size)
    return StandInAudioTower(dim=cfg.dim, n_mels=cfg.n_mels, tokens_per_second=cfg.tokens_per_second)


@TOWERS.register("stand-in")
def _build_stand_in(cfg: TowerConfig) -> Tower:
    return stand_in(cfg)
