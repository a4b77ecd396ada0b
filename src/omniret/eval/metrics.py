"""Retrieval metrics as pure functions of the ranks of the relevant candidates.

Recall@k is UniIR's hit rate: 1 if any relevant candidate is in the top k. Ranks are 1-based.
Every function has an exact expected value under a uniformly random ranking, used for the
``random`` baseline.
"""

from __future__ import annotations

import math
from functools import lru_cache


def hit_at_k(ranks: list[int], k: int) -> float:
    return float(any(r <= k for r in ranks))


def reciprocal_rank(ranks: list[int]) -> float:
    return 1.0 / min(ranks) if ranks else 0.0


def ndcg_at_k(ranks: list[int], n_relevant: int, k: int = 10) -> float:
    """Binary-relevance nDCG@k; ``n_relevant`` counts all relevant candidates in the pool."""
    if n_relevant == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in ranks if r <= k)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_relevant, k) + 1))
    return dcg / idcg


def query_metrics(ranks: list[int], n_relevant: int, ks: list[int]) -> dict[str, float]:
    out = {f"recall@{k}": hit_at_k(ranks, k) for k in ks}
    out["mrr"] = reciprocal_rank(ranks)
    out["ndcg@10"] = ndcg_at_k(ranks, n_relevant, 10)
    return out


# ----------------------------------------------------------------------------- modality precision


def modality_ks(ks: list[int]) -> list[int]:
    """Cut-offs for modality precision: the requested ones plus 5, the one every report shows."""
    return sorted({*ks, 5})


def modality_precision(top_modalities: list[str], modality: str | None, k: int) -> float:
    """Share of the top k hits whose modality is the task's candidate modality.

    In a mixed (global) pool this shows a model that ranks by modality before meaning: the right
    answer's modality losing the top ranks to another modality. Fewer than k hits (a small pool)
    are shared over what was returned; a query with no hits (it could not be encoded) scores 0.
    """
    top = top_modalities[:k]
    return sum(m == modality for m in top) / len(top) if top else 0.0


def modality_metrics(top_modalities: list[str], modality: str | None, ks: list[int]) -> dict[str, float]:
    return {f"modality_precision@{k}": modality_precision(top_modalities, modality, k) for k in ks}


# ----------------------------------------------------------------------------- random ranking


@lru_cache(maxsize=4096)
def _log_comb(n: int, k: int) -> float:
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def expected_random(n_candidates: int, n_relevant: int, ks: list[int]) -> dict[str, float]:
    """Exact expectations of ``query_metrics`` when the pool of n is ranked uniformly at random."""
    n, p = n_candidates, n_relevant
    if p == 0:
        return {**{f"recall@{k}": 0.0 for k in ks}, "mrr": 0.0, "ndcg@10": 0.0}
    out = {f"recall@{k}": 1.0 - math.exp(_log_comb(n - p, min(k, n)) - _log_comb(n, min(k, n))) for k in ks}
    # P(first relevant at rank r) = C(n - r, p - 1) / C(n, p)
    out["mrr"] = sum(math.exp(_log_comb(n - r, p - 1) - _log_comb(n, p)) / r for r in range(1, n - p + 2))
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(p, 10) + 1))
    out["ndcg@10"] = sum((p / n) / math.log2(r + 1) for r in range(1, min(n, 10) + 1)) / idcg
    return out


def expected_random_modality(n_candidates: int, n_matching: int, ks: list[int]) -> dict[str, float]:
    """Under a uniform ranking every top-k slot holds a matching candidate with probability m / n."""
    share = n_matching / n_candidates if n_candidates else 0.0
    return {f"modality_precision@{k}": share for k in ks}
