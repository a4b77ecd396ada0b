"""Latent cross-attention blocks shared by the media resampler and the ASWP resampler.

Both resamplers are Flamingo-style Perceiver stacks (docs/METHOD_NOTES.md §4.3): pre-LN latents query
[media; latents], then a feed-forward, two blocks, a final LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LatentCrossAttention(nn.Module):
    """Latents (B, M, D) attend to tokens (B, N, D), optionally concatenated with themselves."""

    def __init__(self, *, dim: int, heads: int, dim_head: int, kv_include_latents: bool = True) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head, self.kv_include_latents = heads, dim_head, kv_include_latents
        self.norm_media = nn.LayerNorm(dim)
        self.norm_latents = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, latents: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, m, _ = latents.shape
        x, z = self.norm_media(x), self.norm_latents(latents)
        kv_in = torch.cat([x, z], dim=1) if self.kv_include_latents else x  # (B, N[+M], D)
        if mask is not None and self.kv_include_latents:
            mask = torch.cat([mask, mask.new_ones(b, m)], dim=1)  # latents are always visible
        q = self._split(self.to_q(z))  # (B, h, M, dh)
        k, v = (self._split(t) for t in self.to_kv(kv_in).chunk(2, dim=-1))  # (B, h, N', dh)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, N') True = attend
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, h, M, dh)
        return self.to_out(out.transpose(1, 2).reshape(b, m, -1))  # (B, M, D)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.dim_head).transpose(1, 2)  # (B, h, n, dh)


class FeedForward(nn.Sequential):
    """LN -> Linear(D, rD) -> GELU -> Linear(rD, D)."""

    def __init__(self, *, dim: int, mult: int = 1) -> None:
        super().__init__(
            nn.LayerNorm(dim),
            nn.Linear(dim, dim * mult, bias=False),
            nn.GELU(),
            nn.Linear(dim * mult, dim, bias=False),
        )


class LatentStack(nn.Module):
    """``depth`` x (cross-attention + feed-forward, both residual), then a final LayerNorm."""

    def __init__(
        self,
        *,
        dim: int,
        depth: int,
        heads: int,
        dim_head: int,
        ff_mult: int = 1,
        kv_include_latents: bool = True,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    LatentCrossAttention(
                        dim=dim, heads=heads, dim_head=dim_head, kv_include_latents=kv_include_latents
                    ),
                    FeedForward(dim=dim, mult=ff_mult),
                ]
            )
            for _ in range(depth)
        )
        self.norm_out = nn.LayerNorm(dim)

    def forward(
        self, x: torch.Tensor, latents: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, N, D) tokens, latents (B, M, D) queries, mask (B, N) bool True = real -> (B, M, D)."""
        if mask is not None and not bool(mask.any(dim=1).all()):
            raise ValueError("every item needs at least one unmasked token")
        z = latents
        for attn, ff in self.layers:
            z = z + attn(x, z, mask)
            z = z + ff(z)
        return self.norm_out(z)
