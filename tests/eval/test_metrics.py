"""omniret.eval.metrics: recall (UniIR's hit rate), MRR and nDCG as functions of the relevant
candidates' ranks, their exact expectations under a random ranking, and modality precision."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from omniret.eval.metrics import (
    expected_random,
    expected_random_modality,
    hit_at_k,
    modality_ks,
    modality_precision,
    ndcg_at_k,
    query_metrics,
    reciprocal_rank,
)


def test_one_ranking_by_hand():
    """Relevant candidates at ranks 2 and 5 (of a pool with exactly those two relevant)."""
    m = query_metrics([5, 2], 2, [1, 3, 5])
    assert (m["recall@1"], m["recall@3"], m["recall@5"]) == (0.0, 1.0, 1.0)  # a hit, not a share
    assert m["mrr"] == 1 / 2  # the first relevant one counts
    ideal = 1 + 1 / math.log2(3)  # both at the top
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / ideal)


def test_mrr_and_recall_over_queries_are_means_of_the_per_query_values():
    runs = [[1], [3], [2, 4], []]  # the last query could not be encoded: a miss, still counted
    assert np.mean([reciprocal_rank(r) for r in runs]) == pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4)
    assert np.mean([hit_at_k(r, 2) for r in runs]) == pytest.approx(2 / 4)


def test_ndcg_edges():
    assert ndcg_at_k([11], 1, 10) == 0.0  # below the cut-off
    assert ndcg_at_k([], 0, 10) == 0.0  # nothing relevant: no division by zero
    assert ndcg_at_k([1, 2, 3], 3) == pytest.approx(1.0)
    # 12 relevant but only 10 places: the ideal list is 10 hits, so 10 hits on top are perfect
    assert ndcg_at_k(list(range(1, 11)), 12, 10) == pytest.approx(1.0)


def test_expected_random_at_the_extremes():
    four = expected_random(4, 1, [1, 4])
    assert four["recall@1"] == pytest.approx(1 / 4) and four["recall@4"] == pytest.approx(1.0)
    assert four["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert expected_random(3, 3, [1]) == pytest.approx({"recall@1": 1.0, "mrr": 1.0, "ndcg@10": 1.0})
    assert expected_random(5, 0, [1]) == {"recall@1": 0.0, "mrr": 0.0, "ndcg@10": 0.0}
    assert expected_random(2, 1, [10])["recall@10"] == pytest.approx(1.0)  # k beyond the pool


def test_random_modality_precision_is_the_matching_share():
    assert expected_random_modality(10, 3, [1, 5]) == pytest.approx(
        {"modality_precision@1": 0.3, "modality_precision@5": 0.3}
    )
    assert expected_random_modality(0, 0, [5]) == {"modality_precision@5": 0.0}


def test_expected_random_equals_enumeration():
    n, p = 6, 2
    rel = {0, 1}
    perms = list(itertools.permutations(range(n)))
    sums: dict[str, float] = {}
    for perm in perms:
        ranks = [r + 1 for r, c in enumerate(perm) if c in rel]
        for k, v in query_metrics(ranks, p, [1, 3]).items():
            sums[k] = sums.get(k, 0.0) + v
    exact = expected_random(n, p, [1, 3])
    for k, v in sums.items():
        assert exact[k] == pytest.approx(v / len(perms)), k


def test_metrics_agree_with_ranx_on_random_runs(tmp_path):
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(0)
    qrels, run, ours = {}, {}, {"hit_rate@5": [], "mrr": [], "ndcg@10": []}
    for q in range(30):
        rel = {f"d{i}" for i in rng.choice(40, size=rng.integers(1, 4), replace=False)}
        scores = {f"d{i}": float(s) for i, s in enumerate(rng.random(40))}
        order = sorted(scores, key=lambda d: -scores[d])
        ranks = [order.index(d) + 1 for d in rel]
        m = query_metrics(ranks, len(rel), [5])
        ours["hit_rate@5"].append(m["recall@5"])
        ours["mrr"].append(m["mrr"])
        ours["ndcg@10"].append(ndcg_at_k(ranks, len(rel), 10))
        qrels[f"q{q}"] = dict.fromkeys(rel, 1)
        run[f"q{q}"] = scores
    got = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), list(ours))
    for k, v in ours.items():
        assert got[k] == pytest.approx(np.mean(v), abs=1e-6), k


def test_modality_precision_edges():
    assert modality_precision(["image", "text", "image"], "image", 2) == 0.5
    assert modality_precision(["image"], "image", 5) == 1.0  # fewer hits than k: share of what came back
    assert modality_precision([], "image", 5) == 0.0  # a query that could not be encoded
    assert modality_precision(["image", "image,text"], "image,text", 2) == 0.5  # the full string counts
    assert modality_ks([1, 10]) == [1, 5, 10]
