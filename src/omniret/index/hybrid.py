"""Hybrid search: reciprocal-rank fusion (RRF) of the dense and the keyword (BM25) rankings.

Cosine and BM25 scores live on unrelated scales (BM25 grows with the query's length and the words'
rarity), so they are fused by rank, not by score: ``score(d) = sum over rankings r containing d of
1 / (k + rank_r(d))`` with ranks from 1 (Cormack et al., 2009). ``k = 60`` is the paper's value and
LanceDB's and Weaviate's default; a larger k flattens the difference between the top ranks. A row
found by one ranking only still gets that ranking's share, so an exact word in a transcript can
surface a moment the dense vector missed, and a paraphrase the words miss still ranks by meaning.
"""

from __future__ import annotations

from dataclasses import replace

RRF_K = 60
CANDIDATES = 100  # rows each ranking contributes before fusion (at least the rows asked for)


def rrf(rankings: list[list[str]], *, k: int = RRF_K) -> dict[str, float]:
    """key -> fused score over ``rankings`` (each a list of keys, best first; a key counted once per list)."""
    if k < 0:
        raise ValueError(f"the RRF constant k must be >= 0, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(dict.fromkeys(ranking), start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return scores


def fuse(dense: list, keyword: list, *, k: int = RRF_K) -> list:
    """Hits of both rankings ordered by RRF score (ties: dense order first, then keyword order); each
    keeps its ``dense_score`` and ``keyword_score`` (None where that ranking did not return it) and
    gets the fused value as ``score``."""
    key = lambda h: (h.asset_id, h.segment_id)  # noqa: E731
    fused = rrf([[key(h) for h in dense], [key(h) for h in keyword]], k=k)
    by_key, order = {}, {}
    for h in [*dense, *keyword]:
        by_key.setdefault(key(h), h)
        order.setdefault(key(h), len(order))
    dense_scores = {key(h): h.score for h in dense}
    keyword_scores = {key(h): h.score for h in keyword}
    # a hit in both rankings is the dense one (it carries the calibrated score; keyword hits have none)
    hits = [replace(by_key[c], score=fused[c], dense_score=dense_scores.get(c), keyword_score=keyword_scores.get(c))
            for c in by_key]  # fmt: skip
    return sorted(hits, key=lambda h: (-h.score, order[key(h)]))
