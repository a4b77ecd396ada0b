"""omniret.eval.mbeir: the M-BEIR layout read back as tasks: each query file with its own pool, the
instruction of its (dataset, query modality, candidate modality) row, paths under the benchmark root.
(Every malformed-file refusal is listed in tests/test_input_refusals.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from omniret.datasets.writer import write_instructions, write_task
from omniret.eval import BenchmarkFormatError, load_tasks
from omniret.eval.mbeir import candidate_input, find_tasks, query_input
from tests.helpers.builders import mbeir_fixture


def composed(root: Path) -> Path:
    """A composed (image, text) -> image task of dataset 7 whose ids are integers, and a text task."""
    pool = [{"did": 1, "modality": "image", "img_path": "media/a.png"},
            {"did": 2, "modality": "image", "img_path": "media/b.png"},
            {"did": 3, "modality": "text", "txt": "a caption"}]  # fmt: skip
    queries = [{"qid": "7:1", "query_modality": "image,text", "query_img_path": "media/q.png",
                "query_txt": "make it blue", "pos_cand_list": [2]},
               {"qid": "7:2", "query_modality": "image", "query_img_path": "media/r.png",
                "query_txt": " ", "pos_cand_list": ["1"]}]  # fmt: skip
    write_task(root, "cir", "test", queries, pool)
    write_task(root, "cir", "val", queries[:1], pool)
    write_task(root, "words", "test", [{"qid": "7:9", "query_modality": "text", "query_txt": "x",
                                        "pos_cand_list": ["3"]}], pool[2:])  # fmt: skip
    write_instructions(root, [
        {"query_modality": "image,text", "cand_modality": "text", "dataset_name": "Toy", "dataset_id": "7",
         "prompts": ["Not this one: the candidates are images."]},
        {"query_modality": "image,text", "cand_modality": "image", "dataset_name": "Toy", "dataset_id": "7",
         "prompts": ["Find the changed image.", "Second prompt."]},
    ])  # fmt: skip
    return root


def test_instructions_with_and_without_the_tsv(tmp_path):
    with_tsv = load_tasks(mbeir_fixture(tmp_path / "a"), pattern="toy_task0")[0]
    assert {q.instruction for q in with_tsv.queries} == {"Find the text."}
    without = load_tasks(mbeir_fixture(tmp_path / "b", instructions=False), pattern="toy_task0")[0]
    assert {q.instruction for q in without.queries} == {None}


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


def test_a_composed_task_reads_back_with_its_group_instruction_and_string_ids(tmp_path):
    cir, words = load_tasks(composed(tmp_path))
    assert (cir.name, cir.group, cir.cand_modality) == ("cir", "(I,T)→I", "image")
    assert words.group == "T→T"
    assert [c.did for c in cir.pool] == ["1", "2", "3"] and cir.queries[0].pos_cand_list == ["2"]
    assert cir.queries[0].instruction == "Find the changed image."  # the first prompt of its row
    assert cir.queries[1].instruction is None and words.queries[0].instruction is None  # no row for them
    blank = cir.queries[1]
    assert blank.txt is None and blank.img_path == "media/r.png"  # a blank text is no text


def test_inputs_point_under_the_benchmark_root(tmp_path):
    root = composed(tmp_path)
    cir = load_tasks(root, pattern="cir")[0]
    q = query_input(root, cir.queries[0])
    assert (q.image, q.text, q.instruction) == (
        root / "media/q.png",
        "make it blue",
        "Find the changed image.",
    )
    c = candidate_input(root, cir.pool[2])
    assert (c.text, c.image, c.audio) == ("a caption", None, None)


def test_tasks_are_found_by_split_and_pattern(tmp_path):
    root = composed(tmp_path)
    assert [name for name, _, _ in find_tasks(root)] == ["cir", "words"]  # sorted by file name
    assert [name for name, _, _ in find_tasks(root, "val")] == ["cir"]
    assert [t.name for t in load_tasks(root, pattern="w*")] == ["words"]
    with pytest.raises(BenchmarkFormatError, match=r"no query files match mbeir_nope_test\.jsonl"):
        load_tasks(root, pattern="nope")


def test_a_task_without_positives_in_its_pool_takes_the_pools_commonest_modality():
    from omniret.eval.mbeir import Candidate, Task

    task = Task("t", Path("q"), Path("p"), pool=[Candidate(did="1", modality="audio", audio_path="a.wav"),
                                                 Candidate(did="2", modality="image", img_path="b.png"),
                                                 Candidate(did="3", modality="audio", audio_path="c.wav")])  # fmt: skip
    assert task.cand_modality == "audio" and task.group == "?→?"
