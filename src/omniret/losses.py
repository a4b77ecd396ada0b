"""The OmniRet objective as pure functions on tensors (docs/METHOD_NOTES.md §2, §3, §5, §7).

Row i of ``q`` is a query whose positive is row i of ``c``; every other candidate row is an
in-batch negative unless it shares the positive's id (duplicates such as repeated MSCOCO images
are never negatives) or, optionally, looks too similar to be a true negative (Nemotron).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from omniret.config import LossConfig


def similarity(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Cosine scores (Bq, Bc) of unit embeddings: (B, L) dot products or (B, V, D) MaxSim.

    MaxSim (late interaction): mean over query vectors of the best-matching candidate vector.
    """
    if q.dim() == 2 and c.dim() == 2:
        return q @ c.T
    if q.dim() == 3 and c.dim() == 3:
        return torch.einsum("qid,cjd->qcij", q, c).amax(dim=-1).mean(dim=-1)
    raise ValueError(
        f"embeddings must both be (B, L) or both (B, V, D); got {tuple(q.shape)} and {tuple(c.shape)}"
    )


def negative_mask(
    sim: torch.Tensor,
    *,
    candidate_ids: torch.Tensor | None = None,
    false_negative_threshold: float | None = None,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """(Bq, Bc) bool: which candidates count as negatives for each query (positive of q_i is c_i).

    Drops the positive itself, candidates with the positive's id, candidates of another group
    (``groups`` (Bc,): the per-dataset-chunk scope) and, if a threshold is given, candidates with
    similarity > threshold x the positive's similarity.
    """
    bq, bc = sim.shape
    if bc < bq:
        raise ValueError(f"need at least one candidate per query, got {bq} queries and {bc} candidates")
    rows = torch.arange(bq, device=sim.device)
    neg = torch.ones(bq, bc, dtype=torch.bool, device=sim.device)
    neg[rows, rows] = False
    if candidate_ids is not None:
        if candidate_ids.shape != (bc,):
            raise ValueError(f"candidate_ids must have shape ({bc},), got {tuple(candidate_ids.shape)}")
        neg &= candidate_ids[None, :] != candidate_ids[:bq, None]
    if groups is not None:
        if groups.shape != (bc,):
            raise ValueError(f"groups must have shape ({bc},), got {tuple(groups.shape)}")
        neg &= groups[None, :] == groups[:bq, None]
    if false_negative_threshold is not None:
        pos = sim[rows, rows][:, None]
        neg &= sim.detach() <= false_negative_threshold * pos.detach()
    return neg


def hard_negative_weights(logits: torch.Tensor, neg: torch.Tensor, *, beta: float) -> torch.Tensor:
    """DiHT weights w_ij = n_i exp(beta phi_ij) / sum_k exp(beta phi_ik) over negatives, in log space.

    Returns log w (Bq, Bc), -inf off the negative set; the weights average to 1 over each row's negatives.
    """
    n = neg.sum(dim=1, keepdim=True).clamp(min=1)
    has_neg = neg.any(dim=1, keepdim=True)
    scaled = (beta * logits).masked_fill(~neg, -math.inf)
    # Rows without negatives get a dummy finite normaliser so no NaN reaches the gradient.
    log_norm = torch.logsumexp(scaled.masked_fill(~has_neg, 0.0), dim=1, keepdim=True)
    return n.log() + scaled - log_norm


def hard_negative_infonce(
    q: torch.Tensor,
    c: torch.Tensor,
    *,
    temperature: float = 0.07,
    beta: float = 0.5,
    symmetric: bool = False,
    false_negative_threshold: float | None = None,
    candidate_ids: torch.Tensor | None = None,
    detach_weights: bool = False,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """HN-NCE (Eq. 2-3): -phi_ii + log(exp(phi_ii) + sum_j w_ij exp(phi_ij)), averaged over queries.

    ``beta=0`` gives plain InfoNCE. ``symmetric`` adds the candidate->query direction (DiHT/CoVR).
    """
    sim = similarity(q, c)  # (Bq, Bc)
    loss = _hn_nce(sim, temperature, beta, false_negative_threshold, candidate_ids, detach_weights, groups)
    if symmetric:
        if sim.shape[0] != sim.shape[1]:
            raise ValueError("symmetric loss needs as many candidates as queries")
        loss = loss + _hn_nce(
            sim.T, temperature, beta, false_negative_threshold, candidate_ids, detach_weights, groups
        )
    return loss


def _hn_nce(sim, temperature, beta, threshold, ids, detach, groups=None) -> torch.Tensor:
    logits = sim / temperature
    neg = negative_mask(sim, candidate_ids=ids, false_negative_threshold=threshold, groups=groups)
    log_w = hard_negative_weights(logits.detach() if detach else logits, neg, beta=beta)
    rows = torch.arange(sim.shape[0], device=sim.device)
    pos = logits[rows, rows]
    terms = torch.cat([pos[:, None], logits + log_w], dim=1)  # (Bq, 1 + Bc); -inf off negatives
    return (torch.logsumexp(terms, dim=1) - pos).mean()


def triplet_loss(
    q: torch.Tensor,
    c: torch.Tensor,
    *,
    margin: float = 0.1,
    negatives: str = "hardest",
    candidate_ids: torch.Tensor | None = None,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinge triplet on raw cosine (Eq. 4): max(0, margin - s_ii + s_ij) with the hardest (or every) negative."""
    if negatives not in ("hardest", "mean_all"):
        raise ValueError(f"negatives must be 'hardest' or 'mean_all', got {negatives!r}")
    sim = similarity(q, c)
    neg = negative_mask(sim, candidate_ids=candidate_ids, groups=groups)
    rows = torch.arange(sim.shape[0], device=sim.device)
    pos = sim[rows, rows][:, None]  # (Bq, 1)
    hinge = F.relu(margin - pos + sim).masked_fill(~neg, 0.0)  # (Bq, Bc)
    if negatives == "hardest":
        per_query = hinge.amax(dim=1)
    else:
        per_query = hinge.sum(dim=1) / neg.sum(dim=1).clamp(min=1)
    return per_query.mean()


def diversity_loss(
    tokens: torch.Tensor,
    *,
    dropout: float = 0.5,
    beta: float = 0.5,
    kind: str = "smooth_l1",
    training: bool = True,
) -> torch.Tensor:
    """L_div (Eq. 5-6): push an item's M resampled tokens apart.

    Per item: G = clip(cos(tokens_i, tokens_j), 0) - I, inverted dropout on its entries, then the
    mean smooth-L1 (Huber, transition ``beta``) of the M x M entries against 0; averaged over items.
    """
    if tokens.dim() != 3:
        raise ValueError(f"diversity_loss expects (B, M, D) tokens, got {tuple(tokens.shape)}")
    unit = F.normalize(tokens, dim=-1)
    gram = (unit @ unit.transpose(1, 2)).clamp(min=0)  # (B, M, M)
    eye = torch.eye(gram.shape[-1], device=gram.device, dtype=gram.dtype)
    delta = F.dropout(gram - eye, p=dropout, training=training)
    zero = torch.zeros_like(delta)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(delta, zero, beta=beta)
    if kind == "l1":
        return F.l1_loss(delta, zero)
    if kind == "l2":
        return F.mse_loss(delta, zero)
    raise ValueError(f"unknown diversity loss kind {kind!r}; expected smooth_l1, l1 or l2")


@dataclass
class LossTerms:
    total: torch.Tensor
    contrastive: torch.Tensor
    triplet: torch.Tensor
    diversity: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in vars(self).items()}


def omniret_loss(
    q: torch.Tensor,
    c: torch.Tensor,
    media_tokens: torch.Tensor | None,
    cfg: LossConfig | None = None,
    *,
    candidate_ids: torch.Tensor | None = None,
    groups: torch.Tensor | None = None,
    training: bool = True,
) -> LossTerms:
    """Eq. 9: L = L_cont + mu1 L_tri + mu2 L_div (defaults 1 / 1 / 0.1).

    ``groups`` (Bc,) are the (task, dataset) chunk of each row; used only when
    ``cfg.negatives_scope == "per_dataset_chunk"``.
    """
    cfg = cfg or LossConfig()
    if cfg.negatives_scope == "global":
        groups = None
    elif groups is None:
        raise ValueError("negatives_scope='per_dataset_chunk' needs the groups of the batch rows")
    cont = hard_negative_infonce(
        q,
        c,
        temperature=cfg.temperature,
        beta=cfg.beta,
        symmetric=cfg.symmetric,
        false_negative_threshold=cfg.false_negative_threshold,
        candidate_ids=candidate_ids,
        detach_weights=cfg.detach_weights,
        groups=groups,
    )
    tri = triplet_loss(
        q,
        c,
        margin=cfg.triplet_margin,
        negatives=cfg.triplet_negatives,
        candidate_ids=candidate_ids,
        groups=groups,
    )
    div = q.new_zeros(())
    if media_tokens is not None and media_tokens.numel():
        div = diversity_loss(
            media_tokens,
            dropout=cfg.diversity_dropout,
            beta=cfg.diversity_beta,
            kind=cfg.diversity_kind,
            training=training,
        )
    total = cont + cfg.triplet_weight * tri + cfg.diversity_weight * div
    return LossTerms(total=total, contrastive=cont, triplet=tri, diversity=div)
