"""Shared Media Resampler (docs/METHOD_NOTES.md §4): every medium becomes M tokens of width D.

One latent set is shared by all modalities and a per-modality latent set is added to it
(Q0 = Lambda_shared + Lambda_m), so one set of attention weights serves images, audio and video
while each modality can still ask its own questions. Video grids are first shrunk by 3-D
trilinear interpolation, then get learnable frame embeddings initialised with a sinusoid table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from omniret.model.attention import LatentStack


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """The standard 1-D sinusoid position table, (n, dim)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def interpolate_video(grid: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """Trilinearly resize a video feature grid (B, T, H, W, C) to (B, T', H', W', C).

    Cheap to run before the projector (on tower width C); a no-op when the size already matches.
    """
    if grid.dim() != 5:
        raise ValueError(f"video features must be (B, T, H, W, C), got {tuple(grid.shape)}")
    if tuple(grid.shape[1:4]) == tuple(size):
        return grid
    x = grid.permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
    x = F.interpolate(x.float(), size=size, mode="trilinear", align_corners=False).to(grid.dtype)
    return x.permute(0, 2, 3, 4, 1)  # (B, T', H', W', C)


class SharedMediaResampler(nn.Module):
    """Resample variable-length media tokens to ``num_latents`` tokens per item.

    Args:
        dim: width D of tokens and latents.
        num_latents: M, tokens per media item handed to the composer.
        modalities: modalities with their own latent set (e.g. ("image", "audio", "video")).
        depth, heads, dim_head, ff_mult: block shape (docs/METHOD_NOTES.md §4.3).
        modality_latents: add per-modality latents (False = the "w/o media latents" ablation).
        kv_include_latents: Flamingo-style K/V = [media; latents]; False = pure Perceiver.
        video_grid: (T', H', W') target of the trilinear interpolation.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_latents: int,
        modalities: tuple[str, ...] | list[str],
        depth: int = 2,
        heads: int = 8,
        dim_head: int = 64,
        ff_mult: int = 1,
        modality_latents: bool = True,
        kv_include_latents: bool = True,
        video_grid: tuple[int, int, int] = (4, 14, 14),
    ) -> None:
        super().__init__()
        self.dim, self.num_latents, self.video_grid = dim, num_latents, tuple(video_grid)
        self.modalities = tuple(modalities)
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)  # Lambda_shared (M, D)
        self.modality_latents = nn.ParameterDict(
            {m: nn.Parameter(torch.randn(num_latents, dim) * 0.02) for m in self.modalities}
            if modality_latents
            else {}
        )
        # Frame (temporal) embeddings over T', sinusoid-initialised, learnable.
        self.frame_embed = nn.Parameter(sinusoid_table(self.video_grid[0], dim))  # (T', D)
        self.stack = LatentStack(
            dim=dim,
            depth=depth,
            heads=heads,
            dim_head=dim_head,
            ff_mult=ff_mult,
            kv_include_latents=kv_include_latents,
        )

    def queries(self, modality: str) -> torch.Tensor:
        """Q0 = Lambda_shared + Lambda_m, (M, D)."""
        if modality not in self.modalities:
            raise ValueError(f"unknown modality {modality!r}; this resampler knows {self.modalities}")
        q = self.latents
        if modality in self.modality_latents:
            q = q + self.modality_latents[modality]
        return q

    def flatten_video(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, D) projected video grid -> (B, T'H'W', D) with frame embeddings added."""
        x = interpolate_video(grid, self.video_grid)  # (B, T', H', W', D)
        x = x + self.frame_embed[None, :, None, None, :].to(x.dtype)
        return x.flatten(1, 3)  # (B, T'H'W', D)

    def forward(self, tokens: torch.Tensor, modality: str, mask: torch.Tensor | None = None) -> torch.Tensor:
        """tokens (B, N, D) or, for video, a grid (B, T, H, W, D); mask (B, N) bool -> (B, M, D)."""
        if tokens.dim() == 5:
            if modality != "video":
                raise ValueError(f"a (B, T, H, W, D) grid is a video input, not {modality!r}")
            tokens, mask = self.flatten_video(tokens), None
        if tokens.dim() != 3 or tokens.shape[-1] != self.dim:
            raise ValueError(f"resampler expects (B, N, {self.dim}) tokens, got {tuple(tokens.shape)}")
        q = self.queries(modality).to(tokens.dtype).expand(tokens.shape[0], -1, -1)  # (B, M, D)
        return self.stack(tokens, q, mask)

    @torch.no_grad()
    def init_modality_from(self, target: str, source: str) -> None:
        """Stage 2: copy one modality's latents into another's (Lambda_video <- Lambda_image)."""
        if target not in self.modality_latents or source not in self.modality_latents:
            raise ValueError(f"both {target!r} and {source!r} need modality latents")
        self.modality_latents[target].copy_(self.modality_latents[source])


class SeparateMediaResamplers(nn.Module):
    """One independent resampler per modality (Table 5 "separate resamplers" ablation)."""

    def __init__(self, *, modalities: tuple[str, ...] | list[str], **kwargs) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        self.per_modality = nn.ModuleDict(
            {m: SharedMediaResampler(modalities=(m,), **kwargs) for m in self.modalities}
        )
        first = self.per_modality[self.modalities[0]]
        self.dim, self.num_latents, self.video_grid = first.dim, first.num_latents, first.video_grid

    def forward(self, tokens: torch.Tensor, modality: str, mask: torch.Tensor | None = None) -> torch.Tensor:
        if modality not in self.per_modality:
            raise ValueError(f"unknown modality {modality!r}; expected one of {self.modalities}")
        return self.per_modality[modality](tokens, modality, mask)

    @torch.no_grad()
    def init_modality_from(self, target: str, source: str) -> None:
        rename = f"modality_latents.{source}"
        state = {
            k.replace(rename, f"modality_latents.{target}"): v
            for k, v in self.per_modality[source].state_dict().items()
        }
        self.per_modality[target].load_state_dict(state)
