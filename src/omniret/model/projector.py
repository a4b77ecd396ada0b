"""LLaVA-style "mlp2x_gelu" projector from a tower's token width to the composer width D."""

from __future__ import annotations

import torch
from torch import nn


class Projector(nn.Module):
    """Linear(d_in -> D) -> GELU -> Linear(D -> D); one per tower (docs/METHOD_NOTES.md §4.1)."""

    def __init__(self, *, in_dim: int, dim: int) -> None:
        super().__init__()
        self.in_dim, self.dim = in_dim, dim
        self.net = nn.Sequential(nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., d_in) -> (..., D); leading dims (B, N) or a video grid (B, T, H, W) pass through."""
        if tokens.shape[-1] != self.in_dim:
            raise ValueError(f"projector expects tokens of width {self.in_dim}, got {tuple(tokens.shape)}")
        return self.net(tokens)
