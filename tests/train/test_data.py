"""omniret.train.data: training pairs read strictly with media resolved against the benchmark root, M-BEIR
training files as pairs, and the task-balanced sampler's quotas, deterministic in (seed, step)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from omniret.config import ConfigError
from omniret.datasets.writer import write_instructions
from omniret.train.data import (
    Pair,
    TaskBalancedSampler,
    instruction_table,
    modalities,
    read_pairs,
    to_input,
)


def test_data_errors(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"dataset": "x"}\n')
    with pytest.raises(ConfigError, match=r"p\.jsonl:1: expected dataset, task, query, positive, id"):
        read_pairs(tmp_path / "p.jsonl")
    with pytest.raises(ConfigError, match="not found"):
        read_pairs(tmp_path / "missing.jsonl")


def test_sampler_obeys_task_and_dataset_quotas():
    pairs = [Pair(dataset=f"d{i % 3}", task=t, query={}, positive={}, id=f"{t}{i % 7}")
             for t in ("TI", "IT", "AT", "TA") for i in range(40)]  # fmt: skip
    sampler = TaskBalancedSampler(pairs, tasks_per_batch=3, per_task=5, seed=1)
    for step in range(20):
        batch = [pairs[i] for i in sampler.batch(step)]
        tasks = Counter(p.task for p in batch)
        assert len(tasks) == 3 and set(tasks.values()) == {5}
        for t in tasks:
            chosen = [p for p in batch if p.task == t]
            assert len({p.dataset for p in chosen}) == 1  # one dataset per task
            assert len({p.id for p in chosen}) == len(chosen)  # no duplicate positives
    assert sampler.batch(7) == sampler.batch(7)


def test_mbeir_training_files_become_pairs(tmp_path):
    from omniret.datasets.writer import write_instructions, write_task
    from omniret.train.data import read_mbeir_pairs

    pool = [{"did": "9:0", "modality": "image", "img_path": "media/a.png"},
            {"did": "9:1", "modality": "text", "txt": "a red dress"}]  # fmt: skip
    queries = [{"qid": "9:7", "query_modality": "text", "query_txt": "red", "pos_cand_list": ["9:0"]},
               {"qid": "9:8", "query_modality": "image,text", "query_img_path": "media/b.png",
                "query_txt": "make it red", "pos_cand_list": ["9:0", "9:1"]}]  # fmt: skip
    write_task(tmp_path, "toy_task0", "train", queries, pool)
    write_instructions(tmp_path, [{"query_modality": "text", "cand_modality": "image", "dataset_name": "Toy",
                                   "dataset_id": "9", "prompts": ["Find the image.", "Show me a photo."]}])  # fmt: skip
    pairs = read_mbeir_pairs(tmp_path)
    assert len(pairs) == 3  # one pair per (query, positive)
    first = pairs[0]
    assert first.query == {"text": "red"} and first.positive == {"image": str(tmp_path / "media/a.png")}
    assert first.dataset == "9" and first.id == "9:0" and first.task == "text->image"
    assert first.instructions == ("Find the image.", "Show me a photo.")
    assert pairs[1].query == {"text": "make it red", "image": str(tmp_path / "media/b.png")}
    assert pairs[2].positive == {"text": "a red dress"} and pairs[2].instructions == ()
    queries[0]["pos_cand_list"] = ["9:5"]
    write_task(tmp_path, "toy_task0", "train", queries, pool)
    with pytest.raises(ConfigError, match="positive 9:5 of query 9:7 is in no candidate pool"):
        read_mbeir_pairs(tmp_path)


def test_media_paths_resolve_against_the_folder_above_train(tmp_path):
    rows = [{"dataset": "sw", "task": "TI", "query": {"text": "red"}, "positive": {"image": "img/red.png"}, "id": 7,
             "note": "other keys are ignored"},
            {"dataset": "sw", "task": "(A,T)A", "query": {"audio": "a.wav", "text": "faster"},
             "positive": {"audio": "b.wav"}, "id": "x"}]  # fmt: skip
    for folder in ("train", "elsewhere"):
        f = tmp_path / folder / "pairs.jsonl"
        f.parent.mkdir()
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = read_pairs(tmp_path / "train" / "pairs.jsonl")
    assert first == Pair("sw", "TI", {"text": "red"}, {"image": str(tmp_path / "img/red.png")}, "7")
    assert second.query == {"audio": str(tmp_path / "a.wav"), "text": "faster"}
    other = read_pairs(tmp_path / "elsewhere" / "pairs.jsonl")[0]  # not under train/: its own folder
    assert other.positive == {"image": str(tmp_path / "elsewhere" / "img/red.png")}


def test_pairs_take_the_prompts_of_their_dataset_and_modalities(tmp_path):
    write_instructions(tmp_path, [
        {"query_modality": "text", "cand_modality": "image", "dataset_name": "sw", "dataset_id": "1",
         "prompts": ["Find the swatch.", "Show the colour."]},
        {"query_modality": "text,audio", "cand_modality": "audio", "dataset_name": "sw", "dataset_id": "1",
         "prompts": ["Change the sound."]},
    ])  # fmt: skip
    table = instruction_table(tmp_path / "instructions" / "query_instructions.tsv")
    assert table[("sw", "audio,text", "audio")] == ["Change the sound."]  # modality lists sorted
    f = tmp_path / "train" / "pairs.jsonl"
    f.parent.mkdir()
    f.write_text("".join(json.dumps(r) + "\n" for r in [
        {"dataset": "sw", "task": "TI", "query": {"text": "red"}, "positive": {"image": "r.png"}, "id": "r"},
        {"dataset": "sw", "task": "IT", "query": {"image": "r.png"}, "positive": {"text": "red"}, "id": "r"},
    ]))  # fmt: skip
    ti, it = read_pairs(f, instructions=table)
    assert ti.instructions == ("Find the swatch.", "Show the colour.") and it.instructions == ()


def test_a_side_becomes_an_encoder_input_and_lists_its_modalities():
    x = to_input({"image": "a.png", "text": "make it red"}, "Find the image.")
    assert (x.image, x.text, x.instruction, x.audio) == ("a.png", "make it red", "Find the image.", None)
    assert modalities({"text": "t", "video": "v.mp4", "image": "i.png"}) == ["image", "video", "text"]


def test_the_sampler_splits_a_tasks_quota_over_its_datasets_and_may_repeat_positives():
    pairs = [Pair(f"d{i % 2}", "TI", {}, {}, id="same") for i in range(20)]
    two = TaskBalancedSampler(
        pairs, tasks_per_batch=5, per_task=6, datasets_per_task=2, unique_positives=False
    )
    batch = [pairs[i] for i in two.batch(0)]
    assert Counter(p.dataset for p in batch) == {"d0": 3, "d1": 3}  # K is capped at the one task
    one = TaskBalancedSampler(pairs, tasks_per_batch=1, per_task=6, seed=0)
    assert len(one.batch(0)) == 1  # unique positives: one pair per id
    with pytest.raises(ConfigError, match="no pairs"):
        TaskBalancedSampler([], tasks_per_batch=1, per_task=1)
