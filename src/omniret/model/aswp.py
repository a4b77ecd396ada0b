"""Attention Sliced Wasserstein Pooling (docs/METHOD_NOTES.md §6, Eq. 7-8, Algorithm 1).

The composer's hidden states are a *set*; ASWP summarises that set by its distribution rather
than by one token. An attention resampler compresses the sequence to N latents Z, the latents
are projected on L learnable unit directions (slices), and for each slice the 1-D optimal
transport (Monge) map from the sorted projections to S learned sorted references gives a
displacement column E[:, l]. The straight-through maximum (STM) keeps the max displacement in
the forward pass but lets the softmax gradient reach every reference and every latent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omniret.model.attention import LatentStack

HEADS = ("stm", "max", "mean", "weighted")
SIGNS = ("ref-minus-sample", "sample-minus-ref")


def quantile_interp_weights(n: int, s: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices and weights resampling a sorted n-sample quantile function at s points.

    Abscissae k/(n+1), k=1..n, to j/(s+1), j=1..s, linear inside and linear extrapolation
    outside (PSWE / torchinterp1d convention). Returns (i0, i1, w) with value = (1-w) x[i0] + w x[i1].
    """
    if n == 1:
        zeros = torch.zeros(s, dtype=torch.long)
        return zeros, zeros, torch.zeros(s)
    x = torch.arange(1, n + 1, dtype=torch.float64) / (n + 1)
    xq = torch.arange(1, s + 1, dtype=torch.float64) / (s + 1)
    i1 = torch.searchsorted(x, xq).clamp(1, n - 1)  # right neighbour; clamping = extrapolate
    i0 = i1 - 1
    w = (xq - x[i0]) / (x[i1] - x[i0])
    return i0, i1, w.float()


class ASWP(nn.Module):
    """Attention Sliced Wasserstein Pooling: hidden (B, T, D), mask (B, T) -> (B, L).

    Args:
        dim: D, width of the composer hidden states.
        num_latents: N, size of the set Z produced by the attention resampler.
        num_refs: S, learned reference points per slice.
        num_slices: L, number of slices = embedding dimension.
        depth, heads, dim_head, ff_mult: the ASWP resampler's block shape (as §4.3).
        head: "stm" (paper), "max", "mean" or "weighted" (PSWE's learnable sum) for the ablation.
        stm_temperature: softmax temperature of the straight-through maximum.
        sign: Monge displacement sign; "ref-minus-sample" is PSWE's convention.
    """

    def __init__(
        self,
        *,
        dim: int,
        num_latents: int = 128,
        num_refs: int = 128,
        num_slices: int = 4096,
        depth: int = 2,
        heads: int = 12,
        dim_head: int = 128,
        ff_mult: int = 1,
        head: str = "stm",
        stm_temperature: float = 1.0,
        sign: str = "ref-minus-sample",
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown ASWP head {head!r}; expected one of {HEADS}")
        if sign not in SIGNS:
            raise ValueError(f"unknown ASWP sign {sign!r}; expected one of {SIGNS}")
        self.dim, self.num_latents, self.num_refs, self.num_slices = dim, num_latents, num_refs, num_slices
        self.head, self.stm_temperature, self.sign = head, stm_temperature, sign
        self.out_dim = num_slices
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.resampler = LatentStack(dim=dim, depth=depth, heads=heads, dim_head=dim_head, ff_mult=ff_mult)
        # Slices Theta (D, L), stored raw and column-normalised in forward (weight norm, gain 1).
        self.slices = nn.Parameter(self._init_slices(dim, num_slices))
        # References R (S, L): every column starts as linspace(-1, 1, S).
        self.refs = nn.Parameter(torch.linspace(-1.0, 1.0, num_refs)[:, None].repeat(1, num_slices))
        if head == "weighted":
            self.weights = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_slices, num_refs)))  # (L, S)
        i0, i1, w = quantile_interp_weights(num_latents, num_refs)
        self.register_buffer("_i0", i0, persistent=False)
        self.register_buffer("_i1", i1, persistent=False)
        self.register_buffer("_w", w, persistent=False)

    @staticmethod
    def _init_slices(dim: int, num_slices: int) -> torch.Tensor:
        if num_slices <= dim:  # PSWE: identity directions when they fit
            return torch.eye(dim)[:, :num_slices].clone()
        return F.normalize(torch.randn(dim, num_slices), dim=0)

    def theta(self) -> torch.Tensor:
        """Unit-norm slice directions, (D, L)."""
        return F.normalize(self.slices, dim=0)

    def set_embedding(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Z = Resampler_ASWP(H): (B, T, D) -> (B, N, D); padding is masked out of the keys."""
        q = self.latents.to(hidden.dtype).expand(hidden.shape[0], -1, -1)  # (B, N, D)
        return self.resampler(hidden, q, mask)

    def displacement(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The Monge displacement matrix E, (B, S, L), with both sides sorted per column."""
        z = self.set_embedding(hidden, mask)  # (B, N, D)
        p = z @ self.theta().to(z.dtype)  # (B, N, L)
        p_sorted = self._resample_quantiles(p.sort(dim=1).values)  # (B, S, L)
        if self.head == "weighted":
            # Order-dependent head: keep R's own row order, pairing reference j with the sample
            # of the same rank (inverse argsort; PSWE's argsort only matches while R stays sorted).
            rank = self.refs.argsort(dim=0).argsort(dim=0)  # (S, L) rank of each reference
            p_sorted = p_sorted.gather(1, rank[None].expand(p.shape[0], -1, -1))
            refs = self.refs[None]
        else:
            refs = self.refs.sort(dim=0).values[None]  # (1, S, L)
        e = refs.to(p.dtype) - p_sorted
        return e if self.sign == "ref-minus-sample" else -e

    def _resample_quantiles(self, p_sorted: torch.Tensor) -> torch.Tensor:
        """(B, N, L) sorted -> (B, S, L) by quantile interpolation when N != S."""
        if self.num_latents == self.num_refs:
            return p_sorted
        w = self._w.to(p_sorted.dtype)[None, :, None]  # (1, S, 1)
        return p_sorted[:, self._i0] * (1 - w) + p_sorted[:, self._i1] * w

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """hidden (B, T, D), mask (B, T) bool True = real token -> (B, L), not normalised."""
        e = self.displacement(hidden, mask)  # (B, S, L)
        if self.head == "mean":
            return e.mean(dim=1)
        if self.head == "max":
            return e.max(dim=1).values
        if self.head == "weighted":
            return torch.einsum("bsl,ls->bl", e, self.weights.to(e.dtype))
        return straight_through_max(e, dim=1, temperature=self.stm_temperature)


def straight_through_max(e: torch.Tensor, *, dim: int, temperature: float = 1.0) -> torch.Tensor:
    """Eq. 8: the value of max(e, dim) with the gradient of the softmax-weighted selection.

    mask = onehot(argmax) + a - stopgrad(a) with a = softmax(e / temperature); output = sum(e * mask).
    """
    a = torch.softmax(e / temperature, dim=dim)
    hard = F.one_hot(a.argmax(dim=dim), e.shape[dim]).movedim(-1, dim).to(e.dtype)
    return (e * (hard + a - a.detach())).sum(dim=dim)
