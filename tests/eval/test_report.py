"""omniret.eval.report: a result record carries its provenance and per-task, per-group and mean
numbers; TREC runs parse with a standard reader; the markdown table marks the best model per task."""

from __future__ import annotations

import hashlib

import pytest

from omniret.eval import evaluate_task, load_tasks
from omniret.eval.harness import TaskResult
from omniret.eval.report import markdown_table, model_record, results_record, write_trec
from tests.eval.conftest import KS, FakeModel
from tests.helpers.builders import mbeir_fixture


def result(name: str, group: str, recall: float, mrr: float, **kw) -> TaskResult:
    return TaskResult(name=name, group=group, n_queries=4, n_candidates=10,
                      metrics={"recall@1": recall, "mrr": mrr}, **kw)  # fmt: skip


def test_trec_run_parses_with_a_standard_reader(tmp_path):
    ranx = pytest.importorskip("ranx")
    task = load_tasks(mbeir_fixture(tmp_path), pattern="toy_task0")[0]
    res = evaluate_task(FakeModel(), task, tmp_path, ks=KS)
    write_trec([res], tmp_path / "run.trec", "fake model")
    run = ranx.Run.from_file(str(tmp_path / "run.trec"), kind="trec")
    assert set(run.keys()) == {"9:100", "9:101", "9:102"} and len(run["9:100"]) == 4
    first = (tmp_path / "run.trec").read_text().splitlines()[0].split()
    assert first[:4] == ["9:100", "Q0", "9:0", "1"] and first[5] == "fake_model"


def test_trec_lines_have_six_fields_in_rank_order_and_a_tag_without_spaces(tmp_path):
    r = result("t", "T→I", 1.0, 1.0, run=[("q1", [("d2", 0.9), ("d1", 0.25)]), ("q2", [("d1", -0.5)])])
    write_trec([r], tmp_path / "run.trec", "my model\tv2")
    assert (tmp_path / "run.trec").read_text().splitlines() == [
        "q1 Q0 d2 1 0.900000 my_model_v2",
        "q1 Q0 d1 2 0.250000 my_model_v2",
        "q2 Q0 d1 1 -0.500000 my_model_v2",
    ]


def test_a_record_has_provenance_per_task_numbers_and_means_over_tasks_and_groups(tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text("{}\n")
    results = [result("a", "T→I", 1.0, 1.0, files=(str(data),)), result("b", "T→I", 0.0, 0.5),
               result("c", "A→T", 0.5, 0.25, skipped_queries=[("q9", "gone.wav: file not found")])]  # fmt: skip
    rec = results_record(FakeModel(), results, ks=[1], split="test")
    assert rec["model"] == {"id": "fake", "weights_hash": "0", "recipes": {}, "precision": "fp32"}
    assert rec["data_files"] == {str(data): hashlib.sha256(b"{}\n").hexdigest()}
    assert rec["pools"] == ["local"] and rec["modality_ks"] == [1, 5] and "global" not in rec
    assert rec["groups"] == {"T→I": {"recall@1": 0.5, "mrr": 0.75}, "A→T": {"recall@1": 0.5, "mrr": 0.25}}
    assert rec["mean"] == {
        "recall@1": pytest.approx(0.5),
        "mrr": pytest.approx(1.75 / 3),
    }  # tasks weigh the same
    assert rec["tasks"]["c"]["skipped_queries"] == [{"qid": "q9", "reason": "gone.wav: file not found"}]


def test_the_markdown_table_bolds_the_best_model_per_task_and_dashes_what_is_missing():
    first = results_record(FakeModel(), [result("a", "T→I", 0.5, 1.0), result("b", "A→T", 0.25, 1.0)], ks=[1],
                           split="test")  # fmt: skip
    other = FakeModel()
    other.model_id = "other"
    second = results_record(other, [result("a", "T→I", 0.75, 1.0)], ks=[1], split="test")
    lines = markdown_table([first, second], metric="recall@1").splitlines()
    assert lines[0] == "| task | group | queries | pool | fake | other |"
    assert lines[2] == "| a | T→I | 4 | 10 | 50.0 | **75.0** |"
    assert lines[3] == "| b | A→T | 4 | 10 | **25.0** | — |"  # the only value is the best
    assert lines[4] == "| **mean** | | | | 37.5 | 75.0 |"  # each model's mean over its own tasks


def test_the_model_record_keeps_the_heads_precision():
    fast = FakeModel()
    fast.precision = "bf16"
    assert model_record(fast)["precision"] == "bf16"
