import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from omniret.datasets.acm import AcmStats, Clip, attribute_modification, build_acm, select_targets
from omniret.datasets.offline import OfflineBuilder, is_test
from omniret.eval import load_tasks


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


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


def test_hash_split_is_stable():
    assert is_test("oc", "banana", 15) == is_test("oc", "banana", 15)
    share = np.mean([is_test("oc", f"t{i}", 15) for i in range(4000)])
    assert 0.13 < share < 0.17


def test_acm_rules_by_hand():
    cap = np.array([[1.0, 0.79, 0.77, 0.70, 0.64, 0.62, 0.9],
                    [0.79, 1, 0, 0, 0, 0, 0], [0.77, 0, 1, 0, 0, 0, 0], [0.70, 0, 0, 1, 0, 0, 0],
                    [0.64, 0, 0, 0, 1, 0, 0], [0.62, 0, 0, 0, 0, 1, 0], [0.9, 0, 0, 0, 0, 0, 1]])  # fmt: skip
    aco = np.zeros_like(cap)
    aco[0] = [1, 0.5, 0.9, 0.6, 0.3, 0.8, 0.5]
    stats = AcmStats()
    chosen = select_targets(cap, aco, window=(0.6, 0.8), delta=0.05, min_targets=3, stats=stats)
    # 6 (0.9) is outside the window; 1 accepted; 2 (0.77) too close textually to 1 (0.79);
    # 3 (0.70) accepted (acoustic 0.6 vs 0.5 is far enough); 4 (0.64) accepted; 5 (0.62) too close to 4.
    assert chosen == {0: [1, 3, 4]}
    assert (
        stats.rejected_window >= 1 and stats.rejected_textual >= 2 and stats.queries_dropped_few_targets == 6
    )


def test_attribute_modification_text():
    q = Clip(
        "q",
        "a.wav",
        "",
        attributes={"instrument": "Violin", "pitch": "low", "tempo": "slow", "loudness": "soft"},
    )
    t = Clip(
        "t",
        "b.wav",
        "",
        attributes={"instrument": "Oboe", "pitch": "high", "tempo": "slow", "loudness": "loud"},
    )
    assert attribute_modification(q, t) == "Played on an Oboe instead, much higher, louder."


def test_acm_needs_a_generator_or_attributes():
    clips = [Clip(str(i), f"{i}.wav", "c") for i in range(3)]
    with pytest.raises(ValueError, match="no modification generator"):
        build_acm(clips, caption_embed=lambda x: np.eye(3), audio_embed=lambda x: np.eye(3))
