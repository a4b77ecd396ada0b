"""omniret.datasets.writer: benchmarks written in the M-BEIR layout read back unchanged through the
readers `omniret eval mbeir` uses; JSON Lines are UTF-8 with sorted keys (stable bytes per build)."""

from __future__ import annotations

from omniret.datasets.writer import write_instructions, write_jsonl, write_task
from omniret.eval import load_tasks
from omniret.eval.mbeir import read_instructions
from omniret.jsonl import read_jsonl


def test_jsonl_rows_round_trip_as_utf8_with_sorted_keys(tmp_path):
    rows = [{"b": 1, "a": "crème brûlée"}, {"z": [1, 2], "y": None}]
    path = tmp_path / "deep" / "dir" / "rows.jsonl"
    write_jsonl(path, rows)
    assert path.read_bytes().decode("utf-8").splitlines() == [
        '{"a": "crème brûlée", "b": 1}',
        '{"y": null, "z": [1, 2]}',
    ]
    assert [row for _, row in read_jsonl(path)] == rows


def test_a_written_task_is_read_back_as_the_same_queries_and_pool(tmp_path):
    pool = [{"did": "3:0", "modality": "image", "img_path": "media/a.png"},
            {"did": "3:1", "modality": "audio", "audio_path": "media/b.wav"}]  # fmt: skip
    queries = [
        {"qid": "3:9", "query_modality": "text", "query_txt": "a red square", "pos_cand_list": ["3:0"]}
    ]
    write_task(tmp_path, "toy", "val", queries, pool)
    assert (tmp_path / "query/val/mbeir_toy_val.jsonl").is_file()
    assert (tmp_path / "cand_pool/local/mbeir_toy_cand_pool.jsonl").is_file()
    (task,) = load_tasks(tmp_path, split="val")
    assert [(c.did, c.modality, c.img_path, c.audio_path) for c in task.pool] == [
        ("3:0", "image", "media/a.png", None), ("3:1", "audio", None, "media/b.wav")
    ]  # fmt: skip
    assert [(q.qid, q.txt, q.pos_cand_list) for q in task.queries] == [("3:9", "a red square", ["3:0"])]


def test_instructions_keep_one_to_four_prompts_in_order(tmp_path):
    write_instructions(tmp_path, [
        {"query_modality": "text", "cand_modality": "image", "dataset_name": "A", "dataset_id": "1",
         "prompts": ["Find the image.", "Show it."]},
        {"query_modality": "audio", "cand_modality": "text", "dataset_name": "B", "dataset_id": "2",
         "prompts": ["p1", "p2", "p3", "p4"]},
    ])  # fmt: skip
    header = (tmp_path / "instructions/query_instructions.tsv").read_text().splitlines()[0]
    assert header.split("\t") == ["query_modality", "cand_modality", "dataset_name", "dataset_id", "prompt_1",
                                  "prompt_2", "prompt_3", "prompt_4"]  # fmt: skip
    assert read_instructions(tmp_path) == {
        ("1", "text", "image"): ["Find the image.", "Show it."],  # the empty padding columns are not prompts
        ("2", "audio", "text"): ["p1", "p2", "p3", "p4"],
    }
