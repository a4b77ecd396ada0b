"""omniret.datasets.builder: what every benchmark source writes through: stable hash splits and
orders, numbered tasks that drop queries without a positive, pairs, and a per-source cap."""

from __future__ import annotations

import numpy as np

from omniret.datasets.builder import BuildState, count_by, is_test, slug, stable_order
from omniret.eval import load_tasks


def test_hash_split_is_stable():
    assert is_test("oc", "banana", 15) == is_test("oc", "banana", 15)
    share = np.mean([is_test("oc", f"t{i}", 15) for i in range(4000)])
    assert 0.13 < share < 0.17


def test_stable_order_is_a_permutation_that_does_not_depend_on_the_input_order():
    keys = [f"k{i}" for i in range(20)]
    order = stable_order(keys, "ns")
    assert sorted(order) == sorted(keys) and order == stable_order(list(reversed(keys)), "ns")
    assert order != sorted(keys) and order != stable_order(keys, "other")  # shuffled, per namespace


def test_slugs_counts_and_caps():
    assert slug("  Ankle Boot (left)! ") == "ankle-boot-left"
    assert count_by([{"t": "TI"}, {"t": "IT"}, {"t": "TI"}], "t") == {"IT": 1, "TI": 2}
    assert BuildState("x", limit=2).cap([1, 2, 3]) == [1, 2] and BuildState("x").cap([1, 2, 3]) == [1, 2, 3]


def test_a_task_numbers_its_queries_and_drops_those_without_a_positive(tmp_path):
    logs: list[str] = []
    b = BuildState(tmp_path, log=logs.append)
    pool = [
        {"did": "5:0", "modality": "text", "txt": "red"},
        {"did": "5:1", "modality": "text", "txt": "blue"},
    ]
    queries = [{"query_modality": "text", "query_txt": "rouge", "pos_cand_list": ["5:0"]},
               {"query_modality": "text", "query_txt": "vert", "pos_cand_list": []},
               {"query_modality": "text", "query_txt": "bleu", "pos_cand_list": ["5:1"]}]  # fmt: skip
    b.task("colours", "5", queries, pool)
    task = load_tasks(tmp_path)[0]
    assert task.name == "offline_colours"
    assert [q.qid for q in task.queries] == ["5:0", "5:2"]  # numbered before the query without one is dropped
    assert b.counts == {"offline_colours": {"queries": 2, "candidates": 2}}
    b.task("empty", "6", [{"query_modality": "text", "query_txt": "x", "pos_cand_list": []}], pool)
    assert "offline_empty" not in b.counts and "skipped" in logs[-1]
    assert not (tmp_path / "query" / "test" / "mbeir_offline_empty_test.jsonl").exists()


def test_pairs_and_copies_land_under_the_output(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("payload")
    b = BuildState(tmp_path / "out")
    assert b.copy(src, "media/a/b.txt") == "media/a/b.txt"
    assert (tmp_path / "out" / "media/a/b.txt").read_text() == "payload"
    b.pair("ds", "TI", {"text": "x"}, {"image": "media/a/b.txt"}, "ds:x")
    assert b.train == [{"dataset": "ds", "task": "TI", "query": {"text": "x"}, "positive": {"image": "media/a/b.txt"},
                        "id": "ds:x"}]  # fmt: skip
