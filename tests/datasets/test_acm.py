"""omniret.datasets.acm: the ACM builder's three target rules, its attribute-based change texts, and
the (A,T)->A task it writes; embeddings here are hand-placed unit vectors, so every choice is by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from omniret.datasets.acm import (
    AcmStats,
    Clip,
    acm_tasks,
    attribute_modification,
    build_acm,
    read_clips,
    select_targets,
)
from omniret.errors import InputError


def at_cosines(*cosines: float) -> np.ndarray:
    """Unit 2-D rows: the first is [1, 0], each next one at the given cosine to it."""
    return np.array([[1.0, 0.0]] + [[c, math.sqrt(1 - c * c)] for c in cosines])


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


def test_build_acm_keeps_the_queries_with_enough_diverse_targets_and_writes_their_task(tmp_path):
    """Clip 0 sees clips 1-3 at cosines 0.78, 0.70, 0.62: all in the window, 0.08 apart (> delta).
    Clips 1-3 are within 14 degrees of each other (cosine > 0.97, outside the window), so each of
    them has one target (clip 0) and is dropped."""
    clips = [Clip(f"c{i}", str(tmp_path / f"media/c{i}.wav"), f"caption {i}") for i in range(4)]
    emb = at_cosines(0.78, 0.70, 0.62)
    triplets, stats = build_acm(clips, caption_embed=lambda texts: emb, audio_embed=lambda paths: emb,
                                modify=lambda q, t: f"{q.id} to {t.id}", window=(0.6, 0.8))  # fmt: skip
    assert [(t["query"].id, [(c.id, text) for c, text in t["targets"]]) for t in triplets] == [
        ("c0", [("c1", "c0 to c1"), ("c2", "c0 to c2"), ("c3", "c0 to c3")])
    ]
    assert (
        stats.queries_considered,
        stats.queries_kept,
        stats.targets,
        stats.queries_dropped_few_targets,
    ) == (4, 1, 3, 3)
    queries, pool = acm_tasks(triplets, root=tmp_path)
    assert pool == [
        {"did": f"112:{i}", "modality": "audio", "audio_path": f"media/c{i + 1}.wav"} for i in range(3)
    ]
    assert queries == [{"query_modality": "audio,text", "query_audio_path": "media/c0.wav", "query_txt": "c0 to c1",
                        "pos_cand_list": ["112:0"]}]  # fmt: skip


def test_acoustically_too_similar_targets_are_rejected():
    caption = at_cosines(0.78, 0.70, 0.62)
    sound = at_cosines(0.9, 0.88, 0.5)  # clip 2 sounds like clip 1 (0.02 apart): rule 3
    stats = AcmStats()
    chosen = select_targets(
        caption @ caption.T, sound @ sound.T, window=(0.6, 0.8), min_targets=2, stats=stats
    )
    assert chosen[0] == [1, 3] and stats.rejected_acoustic >= 1


def test_clip_lists_are_read_with_their_optional_fields_and_bad_rows_name_the_line(tmp_path):
    f = tmp_path / "clips.jsonl"
    rows = [{"id": "a", "audio": "a.wav", "caption": "rain", "video": "a.mp4", "attributes": {"pitch": "low"}},
            {"id": "b", "audio": "b.wav", "caption": "wind"}]  # fmt: skip
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_clips(f) == [Clip("a", "a.wav", "rain", video="a.mp4", attributes={"pitch": "low"}),
                             Clip("b", "b.wav", "wind")]  # fmt: skip
    f.write_text(
        f.read_text() + json.dumps({"id": "c", "audio": "c.wav", "caption": "x", "colour": 1}) + "\n"
    )
    with pytest.raises(InputError, match=r"clips\.jsonl:3: expected a JSON object with id, audio, caption"):
        read_clips(f)


def test_unchanged_attributes_say_so_and_unknown_steps_name_the_value():
    q = Clip("q", "a.wav", "", attributes={"pitch": "low", "tempo": "slow"})
    assert attribute_modification(q, Clip("t", "b.wav", "", attributes=dict(q.attributes))) == (
        "The same sound, slightly different."
    )
    odd = Clip("t", "b.wav", "", attributes={"pitch": "ultra", "tempo": "slow"})
    assert attribute_modification(q, odd) == "Ultra pitch."
