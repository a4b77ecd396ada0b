"""Embedding-space geometry of a mixed pool: cone width per modality, the modality gap, hubness.

Why: a contrastive model can do well in single-modality pools while its space is organised by
modality first and meaning second. Then every text sits closer to every other text than to any
image of the same thing, and in a mixed (global) pool a query's top hits share its modality, not
its meaning. Three numbers show it: narrow cones (a high mean cosine within a modality), a large
distance between modality centroids (the "modality gap" of Liang et al., NeurIPS 2022), and hubs
(a few candidates in almost every query's top k; Radovanović et al., JMLR 2010).

Pure numpy on embeddings, labels and score matrices, so every number can be checked by hand.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def unit_rows(emb: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine geometry is about directions); zero rows stay zero.

    Multi-vector items, shape (n, V, D), are first averaged over their V vectors: one direction each.
    """
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim == 3:
        x = x.mean(axis=1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def sample_indices(n: int, cap: int, *, seed: int = 0) -> np.ndarray:
    """At most ``cap`` of range(n), sorted and fixed by ``seed``: cheap, reproducible on big pools."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def mean_pairwise_cosine(unit: np.ndarray) -> float | None:
    """Mean cosine over distinct pairs of unit rows: a modality's cone width (1 = one direction).

    sum over i != j of x_i . x_j = |sum x|^2 - sum |x_i|^2, so no n x n matrix is built.
    None for fewer than two rows (no pair).
    """
    n = len(unit)
    if n < 2:
        return None
    total = unit.sum(axis=0)
    return float((total @ total - np.sum(unit * unit)) / (n * (n - 1)))


def centroid(unit: np.ndarray) -> np.ndarray:
    """Mean of unit rows, not renormalised: its length itself says how narrow the cone is."""
    return np.asarray(unit, dtype=np.float64).mean(axis=0)


def centroid_gap(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Cosine and euclidean distance between two centroids: the modality gap.

    A cosine near 1 and a small distance mean the modalities share one region; cosine None when a
    centroid is zero (its direction is undefined).
    """
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cos = float(a @ b / (na * nb)) if na > 0 and nb > 0 else None
    return {"cosine": cos, "euclidean": float(np.linalg.norm(a - b))}


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(n_q, min(k, n_c)) column indices of each row's k highest scores; ties keep column order,
    as the harness ranks (a stable sort)."""
    return np.argsort(-np.asarray(scores), axis=1, kind="stable")[:, :k]


def k_occurrence(top: list, n_candidates: int) -> np.ndarray:
    """N_k: in how many queries' top k each candidate appears (``top``: one index row per query)."""
    rows = [np.asarray(r, dtype=np.int64) for r in top]
    flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=n_candidates)


def skewness(x: np.ndarray) -> float:
    """Population skewness E[(x - mean)^3] / std^3; hubness shows as a long right tail of N_k (> 0).

    0 for a constant distribution (no hubs, no spread).
    """
    x = np.asarray(x, dtype=np.float64)
    std = x.std()
    return 0.0 if x.size == 0 or std == 0 else float(np.mean((x - x.mean()) ** 3) / std**3)


def hubness(top: list, n_candidates: int, *, k: int = 10) -> dict:
    """Hub statistics of N_k over a pool: the largest N_k, the share of queries whose top k holds
    the single most frequent candidate (the hub; lowest index on ties), and the skewness of N_k."""
    counts = k_occurrence(top, n_candidates)
    if len(top) == 0 or n_candidates == 0:
        return {"k": k, "n_queries": len(top), "max_k_occurrence": 0, "hub_index": None, "hub_share": 0.0,
                "skewness": 0.0}  # fmt: skip
    hub = int(np.argmax(counts))
    share = float(np.mean([hub in set(np.asarray(r).tolist()) for r in top]))
    return {"k": k, "n_queries": len(top), "max_k_occurrence": int(counts[hub]), "hub_index": hub,
            "hub_share": share, "skewness": skewness(counts)}  # fmt: skip


def geometry_report(cand: np.ndarray, cand_modalities: list[str], queries: np.ndarray,
                    query_modalities: list[str], top: list, *, k: int = 10, cap: int = 2000,
                    seed: int = 0) -> dict:  # fmt: skip
    """Cone width and centroids per group, the gaps between every two groups, and hubness.

    Groups are the candidates' modalities plus the queries' as 'query:<modality>' (the gap between
    text queries and image candidates is what a T→I search has to cross). ``top`` holds each
    query's top-k candidate indices in the pool.
    """
    cand_u, query_u = unit_rows(cand), unit_rows(queries)
    groups: dict[str, np.ndarray] = {}
    for prefix, unit, labels in (("", cand_u, cand_modalities), ("query:", query_u, query_modalities)):
        for m in sorted(set(labels)):
            groups[prefix + m] = unit[[i for i, x in enumerate(labels) if x == m]]
    modalities, centroids = {}, {}
    for name, rows in groups.items():
        picked = rows[sample_indices(len(rows), cap, seed=seed)]
        modalities[name] = {"n": len(rows), "n_sampled": len(picked),
                            "mean_pairwise_cosine": mean_pairwise_cosine(picked)}  # fmt: skip
        centroids[name] = centroid(rows)
    gaps = [{"a": a, "b": b, **centroid_gap(centroids[a], centroids[b])} for a, b in combinations(groups, 2)]
    return {"n_candidates": len(cand_u), "n_queries": len(query_u), "sample_cap": cap, "seed": seed,
            "modalities": modalities, "centroid_gaps": gaps, "hubness": hubness(top, len(cand_u), k=k)}  # fmt: skip
