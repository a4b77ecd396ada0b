import itertools
import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.eval import (
    BenchmarkFormatError,
    RandomRanker,
    ScoreFusion,
    evaluate_task,
    expected_random,
    load_tasks,
)
from omniret.eval.metrics import ndcg_at_k, query_metrics
from omniret.eval.report import write_trec
from omniret.inputs import OmniInput
from omniret.inputs.media import EmptyMediaError
from tests.helpers.builders import mbeir_fixture

KS = [1, 5, 10]


class FakeModel:
    """Embeds 'vN' texts (and images named vN.png) as fixed vectors, so rankings can be written down."""

    model_id, weights_hash, recipes, dim = "fake", "0", {}, 4
    VECS: ClassVar = {"v0": [1, 0, 0, 0], "v1": [0.8, 0.6, 0, 0], "v2": [0, 1, 0, 0], "v3": [0, 0, 1, 0]}

    def encode(self, inputs, *, batch_size=16, progress=False):
        rows = []
        for x in inputs:
            key = x.text or Path(x.image).stem
            if x.image is not None and not Path(x.image).exists():
                raise EmptyMediaError(str(x.image), "file not found")
            rows.append(np.array(self.VECS[key.split()[-1]], dtype=np.float32))
        rows = np.stack(rows)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


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


def test_instructions_with_and_without_the_tsv(tmp_path):
    with_tsv = load_tasks(mbeir_fixture(tmp_path / "a"), pattern="toy_task0")[0]
    assert {q.instruction for q in with_tsv.queries} == {"Find the text."}
    without = load_tasks(mbeir_fixture(tmp_path / "b", instructions=False), pattern="toy_task0")[0]
    assert {q.instruction for q in without.queries} == {None}


def test_missing_media_is_reported_and_counted(tmp_path):
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task1")[0]
    res = evaluate_task(FakeModel(), task, tmp_path, ks=KS)
    assert res.n_queries == 2 and res.n_candidates == 1
    assert [q for q, _ in res.skipped_queries] == ["5:2"] and "gone.png" in res.skipped_queries[0][1]
    assert [d for d, _ in res.skipped_candidates] == ["5:1"]
    assert res.metrics["recall@1"] == pytest.approx(0.5)  # the unreadable query stays in the denominator


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


def test_random_ranker_uses_exact_expectations(tmp_path):
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task0")[0]
    res = evaluate_task(RandomRanker(), task, tmp_path, ks=KS)
    assert res.metrics["recall@1"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 2) / 3)


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


def test_trec_run_parses_with_a_standard_reader(tmp_path):
    ranx = pytest.importorskip("ranx")
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task0")[0]
    res = evaluate_task(FakeModel(), task, tmp_path, ks=KS)
    write_trec([res], tmp_path / "run.trec", "fake model")
    run = ranx.Run.from_file(str(tmp_path / "run.trec"), kind="trec")
    assert set(run.keys()) == {"9:100", "9:101", "9:102"} and len(run["9:100"]) == 4
    first = (tmp_path / "run.trec").read_text().splitlines()[0].split()
    assert first[:4] == ["9:100", "Q0", "9:0", "1"] and first[5] == "fake_model"


def test_format_errors_name_file_and_line(tmp_path):
    root = mbeir_fixture(tmp_path)
    qfile = root / "query" / "test" / "mbeir_toy_task0_test.jsonl"
    qfile.write_text(qfile.read_text() + "{broken\n")
    with pytest.raises(BenchmarkFormatError, match=r"mbeir_toy_task0_test\.jsonl:4: not valid JSON"):
        load_tasks(root, pattern="toy_task0")
    qfile.write_text('{"qid": "1:1", "query_modality": "text"}\n')
    with pytest.raises(BenchmarkFormatError, match=r":1: missing field\(s\) pos_cand_list"):
        load_tasks(root, pattern="toy_task0")
    (root / "cand_pool" / "local" / "mbeir_toy_task1_cand_pool.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="candidate pool"):
        load_tasks(root, pattern="toy_task1")


def test_score_fusion_sums_unimodal_embeddings(tmp_path):
    (tmp_path / "v2.png").write_bytes(b"x")
    fused = ScoreFusion(FakeModel()).encode(
        [OmniInput(text="v0", image=tmp_path / "v2.png"), OmniInput(text="v3")]
    )
    np.testing.assert_allclose(fused[0], np.array([1, 1, 0, 0]) / math.sqrt(2), atol=1e-6)
    np.testing.assert_allclose(fused[1], [0, 0, 1, 0], atol=1e-6)


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
