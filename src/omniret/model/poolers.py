"""Poolers turn composer hidden states (B, T, D) into embeddings; one registry, one interface.

Every pooler has ``out_dim`` and ``forward(hidden, mask)``. Single-vector poolers return
(B, out_dim); the multi-vector pooler returns (B, V, D) and is scored with MaxSim
(`omniret.losses.similarity` handles both shapes).
"""

from __future__ import annotations

import torch
from torch import nn

from omniret.config import PoolerConfig
from omniret.model.aswp import ASWP
from omniret.model.attention import LatentStack
from omniret.registry import Registry

POOLERS: Registry = Registry("pooler")


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real token per row for right-padded (B, T) masks."""
    return mask.long().sum(dim=1) - 1


def _blocks(cfg: PoolerConfig) -> dict:
    """The attention-block shape both latent poolers share."""
    return {"depth": cfg.depth, "heads": cfg.heads, "dim_head": cfg.dim_head, "ff_mult": cfg.ff_mult}


@POOLERS.register("aswp")
def _aswp(dim: int, cfg: PoolerConfig) -> nn.Module:
    return ASWP(
        dim=dim,
        num_latents=cfg.num_latents,
        num_refs=cfg.num_refs,
        num_slices=cfg.num_slices,
        **_blocks(cfg),
        head=cfg.head,
        stm_temperature=cfg.stm_temperature,
        sign=cfg.sign,
    )


class TokenPooler(nn.Module):
    """Parameter-free single-vector poolers: last real token (EOS), first token (CLS) or mean."""

    def __init__(self, *, dim: int, mode: str) -> None:
        super().__init__()
        self.out_dim, self.mode = dim, mode

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        if self.mode == "cls":
            return hidden[:, 0]
        if self.mode == "eos":
            return hidden[torch.arange(hidden.shape[0], device=hidden.device), last_token_index(mask)]
        w = mask.to(hidden.dtype)[..., None]  # (B, T, 1)
        return (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)


@POOLERS.register("eos")
def _eos(dim: int, cfg: PoolerConfig) -> nn.Module:
    return TokenPooler(dim=dim, mode="eos")


@POOLERS.register("cls")
def _cls(dim: int, cfg: PoolerConfig) -> nn.Module:
    return TokenPooler(dim=dim, mode="cls")


@POOLERS.register("mean")
def _mean(dim: int, cfg: PoolerConfig) -> nn.Module:
    return TokenPooler(dim=dim, mode="mean")


class MultiVectorPooler(nn.Module):
    """V attention latents over the sequence; late interaction (ColBERT MaxSim) at scoring time."""

    def __init__(
        self, *, dim: int, num_vectors: int, depth: int, heads: int, dim_head: int, ff_mult: int
    ) -> None:
        super().__init__()
        self.out_dim, self.num_vectors = dim, num_vectors
        self.latents = nn.Parameter(torch.randn(num_vectors, dim) * 0.02)
        self.resampler = LatentStack(dim=dim, depth=depth, heads=heads, dim_head=dim_head, ff_mult=ff_mult)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self.latents.to(hidden.dtype).expand(hidden.shape[0], -1, -1)  # (B, V, D)
        return self.resampler(hidden, q, mask)  # (B, V, D)


@POOLERS.register("multi-vector")
def _multi(dim: int, cfg: PoolerConfig) -> nn.Module:
    return MultiVectorPooler(
        dim=dim,
        num_vectors=cfg.num_vectors,
        **_blocks(cfg),
    )


def build_pooler(dim: int, cfg: PoolerConfig) -> nn.Module:
    return POOLERS.get(cfg.kind)(dim, cfg)
