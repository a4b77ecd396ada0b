"""omniret.eval.harness: a task is scored by exact search, and unreadable media never silently
shrink it (a query that cannot be encoded is a listed miss, a candidate leaves the pool)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.eval import RandomRanker, evaluate_task, load_tasks
from tests.eval.conftest import KS, FakeModel
from tests.helpers.builders import mbeir_fixture


def test_hand_computed_metrics(tmp_path):
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task0")[0]
    res = evaluate_task(FakeModel(), task, tmp_path, ks=KS)
    # query 100 (v0): v0 1.0, v1 0.8 -> positive at rank 2; query 101: rank 1; query 102 (v2): v2, v1, then v0/v3 tie
    # (stable order keeps 9:0 before 9:3) -> positives at ranks 3 and 4
    assert res.metrics["recall@1"] == pytest.approx(1 / 3)
    assert res.metrics["recall@5"] == pytest.approx(1.0)
    assert res.metrics["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    ndcg102 = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert res.metrics["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 + ndcg102) / 3)
    assert res.group == "T→T" and res.n_candidates == 4
    assert [d for d, _ in res.run[0][1]] == ["9:0", "9:1", "9:2", "9:3"]


def test_missing_media_is_reported_and_counted(tmp_path):
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task1")[0]
    res = evaluate_task(FakeModel(), task, tmp_path, ks=KS)
    assert res.n_queries == 2 and res.n_candidates == 1
    assert [q for q, _ in res.skipped_queries] == ["5:2"] and "gone.png" in res.skipped_queries[0][1]
    assert [d for d, _ in res.skipped_candidates] == ["5:1"]
    assert res.metrics["recall@1"] == pytest.approx(0.5)  # the unreadable query stays in the denominator


def test_random_ranker_uses_exact_expectations(tmp_path):
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task0")[0]
    res = evaluate_task(RandomRanker(), task, tmp_path, ks=KS)
    assert res.metrics["recall@1"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 2) / 3)


def test_cli_writes_json_trec_report_and_chart(tmp_path):
    root = mbeir_fixture(tmp_path)
    out = CliRunner().invoke(app, ["eval", "mbeir", str(root), "--model", "random", "--tasks", "toy_task0",
                                   "--out", str(tmp_path / "r.json"), "--run-out", str(tmp_path / "run.trec"),
                                   "--report", str(tmp_path / "report.md")])  # fmt: skip
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["model"]["id"] == "random" and "toy_task0" in record["tasks"]
    assert record["model"]["precision"] == "fp32"  # conftest sets OMNIRET_PRECISION=fp32
    assert any(p.endswith("mbeir_toy_task0_test.jsonl") for p in record["data_files"])
    assert (tmp_path / "run.trec").stat().st_size > 0 and (tmp_path / "report.png").stat().st_size > 0
    assert "| toy_task0 | T→T | 3 | 4 |" in (tmp_path / "report.md").read_text()


def test_multi_vector_scores_are_maxsim():
    from omniret.eval.harness import score_matrix

    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(3, 4, 8)).astype(np.float32), rng.normal(size=(5, 6, 8)).astype(np.float32)
    want = np.array(
        [[np.mean([max(qi @ cj for cj in c[b]) for qi in q[a]]) for b in range(5)] for a in range(3)]
    )
    np.testing.assert_allclose(score_matrix(q, c, chunk=2), want, rtol=1e-5)
    flat_q, flat_c = q[:, 0], c[:, 0]
    np.testing.assert_allclose(score_matrix(flat_q, flat_c), flat_q @ flat_c.T)


def test_candidate_cache_is_keyed_by_precision(tmp_path):
    from omniret.eval.harness import CandidateCache

    pool = tmp_path / "pool.jsonl"
    pool.write_text("{}\n")
    cache, fast = CandidateCache(tmp_path / "c"), FakeModel()
    fast.precision = "bf16"
    assert cache._path(FakeModel(), pool) != cache._path(fast, pool)  # bf16 vectors never reused as fp32
