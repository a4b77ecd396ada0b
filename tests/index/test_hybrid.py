"""Reciprocal-rank fusion against hand-computed scores, and what a fused hit keeps."""

from __future__ import annotations

import pytest

from omniret.index.hybrid import RRF_K, fuse, rrf
from omniret.index.search import Hit


def hit(key: str, score: float) -> Hit:
    return Hit(score=score, uri=f"/m/{key}", modality="text", t0=None, t1=None, asset_id=key, segment_id="p0",
               text=key, meta={})  # fmt: skip


def test_rrf_sums_one_over_k_plus_rank_per_ranking():
    scores = rrf([["a", "b", "c"], ["c", "a", "d"]], k=60)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["b"] == pytest.approx(1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)
    assert sorted(scores, key=lambda x: -scores[x]) == ["a", "c", "b", "d"]


def test_rrf_counts_a_key_once_per_ranking_and_k_changes_the_spread():
    assert rrf([["a", "a", "b"]], k=0) == {"a": 1.0, "b": 0.5}  # the repeat is no second vote
    assert rrf([], k=60) == {}
    assert RRF_K == 60
    with pytest.raises(ValueError, match="k must be >= 0"):
        rrf([["a"]], k=-1)


def test_fuse_orders_by_rrf_and_keeps_both_raw_scores():
    dense = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    keyword = [hit("c", 7.5), hit("a", 3.0), hit("d", 1.0)]
    fused = fuse(dense, keyword, k=60)
    assert [h.asset_id for h in fused] == ["a", "c", "b", "d"]
    by = {h.asset_id: h for h in fused}
    assert by["a"].score == pytest.approx(1 / 61 + 1 / 62)
    assert (by["a"].dense_score, by["a"].keyword_score) == (0.9, 3.0)
    assert (by["b"].dense_score, by["b"].keyword_score) == (0.8, None)
    assert (by["d"].dense_score, by["d"].keyword_score) == (None, 1.0)
    assert dense[0].score == 0.9  # the inputs are not changed


def test_fuse_breaks_ties_by_dense_order_then_keyword_order():
    # b is 2nd in dense only, y 2nd in keyword only: equal RRF scores, dense's comes first
    fused = fuse([hit("a", 0.9), hit("b", 0.5)], [hit("x", 4.0), hit("y", 2.0)], k=60)
    assert [h.asset_id for h in fused] == ["a", "x", "b", "y"]
    assert fused[0].score == fused[1].score
