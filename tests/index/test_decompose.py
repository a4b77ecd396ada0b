"""``index/decompose.py``: assets cut into searchable segments. Audio windows of 10 s with a hop of 8 s,
video moments at fixed 10 s or at shot changes, paragraph-aligned text passages, and the whole row of a
recording too long for one encode pooled from its windows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from omniret.index.decompose import (
    ENCODE_SECONDS,
    Segment,
    decompose,
    encode_limit,
    passages,
    segmentation,
    text_segments,
    windows,
    with_pooled_whole,
)
from omniret.inputs.media import EmptyMediaError, MediaTooLargeError
from omniret.inputs.media.audio import AudioSpan
from tests.helpers.media import sine, write_audio


def test_shot_aware_video_moments_follow_the_cuts(tmp_path):
    """Cuts where the picture changes; long shots split at 10 s; a 1 s flash is not a shot of its own."""
    from omniret.datasets.render import make_video

    colour = {c: Image.new("RGB", (32, 32), rgb) for c, rgb in
              {"A": (200, 30, 30), "B": (30, 200, 30), "F": (250, 250, 250), "C": (30, 30, 200)}.items()}  # fmt: skip
    plan = "AAA" + "B" * 14 + "CCCC" + "F" + "CCC"  # seconds: A 0-3, B 3-17, C 17-21, flash 21-22, C 22-25
    path = make_video(
        [colour[c] for c in plan], None, tmp_path / "shots.mp4", seconds_each=1.0, fps=4, size=32
    )
    segs = decompose(path, "video", video_mode="shots")[0]
    spans = [(s.t0, s.t1) for s in segs if s.segment_id != "whole"]
    expected = [(0, 3), (3, 10), (10, 17), (17, 25)]  # the 14 s shot becomes two even 7 s moments
    assert len(spans) == len(expected), spans
    for (t0, t1), (e0, e1) in zip(spans, expected, strict=True):
        assert abs(t0 - e0) <= 0.3 and abs(t1 - e1) <= 0.3, spans
    fixed = [(s.t0, s.t1) for s in decompose(path, "video")[0] if s.segment_id != "whole"]
    assert fixed == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]  # fixed: full 10 s windows, the last overlaps


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (5.0, [(0.0, 5.0)]),  # shorter than a window: one window, the asset itself
        (10.0, [(0.0, 10.0)]),
        (12.0, [(0.0, 10.0), (2.0, 12.0)]),  # starts 0; the last window ends at the end
        (25.0, [(0.0, 10.0), (8.0, 18.0), (15.0, 25.0)]),  # starts 0, 8; then 25 - 10
        (26.0, [(0.0, 10.0), (8.0, 18.0), (16.0, 26.0)]),  # 16 + 10 reaches the end: nothing appended
        (10.0000625, [(0.0, 10.0)]),  # 160,001 samples: a 62.5 us tail adds no second "0.00-10.00" window
    ],
)
def test_audio_windows_are_10_s_with_a_hop_of_8_s_and_cover_the_end(duration, expected):
    assert windows(duration, 10.0, 8.0) == expected


def test_a_short_recording_is_one_whole_row_plus_its_windows(tmp_path):
    wav = write_audio(tmp_path / "tone.wav", sine(440, 12.0, 16000), 16000)
    segs, duration = decompose(wav, "audio")
    assert duration == 12.0
    assert [(s.segment_id, s.t0, s.t1, s.pooled) for s in segs] == [
        ("whole", 0.0, 12.0, False), ("0.00-10.00", 0.0, 10.0, False), ("2.00-12.00", 2.0, 12.0, False),
    ]  # fmt: skip
    assert [len(s.input.audio[0]) for s in segs] == [12 * 16000, 10 * 16000, 10 * 16000]  # decoded slices
    one, _ = decompose(write_audio(tmp_path / "blip.wav", sine(880, 0.5, 16000), 16000), "audio")
    assert [(s.segment_id, s.t0, s.t1) for s in one] == [("0.00-0.50", 0.0, 0.5)]  # no separate whole row


def test_a_recording_over_the_encode_limit_is_windows_read_lazily_and_pooled(tmp_path):
    """Over ``encode_seconds`` nothing is decoded here: each window is an ``AudioSpan`` and no whole row
    is encoded (``with_pooled_whole`` makes it); over ``max_audio_seconds`` the file is refused."""
    wav = write_audio(tmp_path / "tone.wav", sine(440, 12.0, 16000), 16000)
    segs, duration = decompose(wav, "audio", encode_seconds=5.0)
    assert duration == pytest.approx(12.0, abs=0.01)
    assert [(s.segment_id, s.pooled) for s in segs] == [("0.00-10.00", True), ("2.00-12.00", True)]
    assert [s.input.audio for s in segs] == [AudioSpan(str(wav), 0.0, 10.0), AudioSpan(str(wav), 2.0, 12.0)]
    with pytest.raises(MediaTooLargeError, match="audio is 12 s, over the 11 s limit"):
        decompose(wav, "audio", encode_seconds=5.0, max_audio_seconds=11.0)


def test_the_pooled_whole_row_is_the_duration_weighted_normalised_mean():
    """Windows 0-10 s (vector e1) and 8-12 s (e2): weights 10 and 4, so the whole row is
    (10, 4) / sqrt(116), from 0 to 12 s, prepended to the windows."""
    segs = [
        Segment("0.00-10.00", 0.0, 10.0, None, pooled=True),
        Segment("8.00-12.00", 8.0, 12.0, None, pooled=True),
    ]
    vecs = np.eye(2, dtype=np.float32)
    out, pooled = with_pooled_whole(segs, vecs)
    assert [(s.segment_id, s.t0, s.t1, s.keyframe_at) for s in out] == [
        ("whole", 0.0, 12.0, None), ("0.00-10.00", 0.0, 10.0, None), ("8.00-12.00", 8.0, 12.0, None),
    ]  # fmt: skip
    np.testing.assert_allclose(pooled[0], np.array([10.0, 4.0]) / np.sqrt(116.0), rtol=1e-6)
    np.testing.assert_array_equal(pooled[1:], vecs)
    assert pooled.dtype == np.float32
    video = [Segment("0.00-10.00", 0.0, 10.0, None, keyframe_at=5.0, pooled=True)]
    assert with_pooled_whole(video, vecs[:1])[0][0].keyframe_at == 5.0  # a video's whole row: middle frame
    plain = [Segment("p0", None, None, None)]
    same, v = with_pooled_whole(plain, vecs[:1])
    assert same is plain and np.array_equal(v, vecs[:1])  # nothing pooled: nothing added


def test_text_passages_join_paragraphs_up_to_800_characters(tmp_path):
    a, b, c = "a" * 300, "b" * 300, "c" * 300
    (tmp_path / "n.txt").write_text(f"{a}\n\n{b}\n\n\n\n{c}\n")
    segs, _ = text_segments(tmp_path / "n.txt")
    assert [s.segment_id for s in segs] == ["p0", "p1"]
    assert [s.text for s in segs] == [f"{a}\n\n{b}", c]  # 602 + 300 > 800: the third starts a passage
    assert [s.input.text for s in segs] == [s.text for s in segs]
    (tmp_path / "blank.txt").write_text("\n\n  \n\n")
    with pytest.raises(EmptyMediaError, match="text file has no text"):
        text_segments(tmp_path / "blank.txt")


def test_passages_join_paragraphs_within_800_characters_and_keep_long_ones_whole():
    """The cut shared by text files and PDF pages (``passages``), computed by hand."""
    a, b, c = "a" * 500, "b" * 299, "c" * 900
    text = f"  intro  \n\n{a}\n\n{b}\n\n\n\n{c}\n\nend\n"
    # intro (5) + a (500) fit; + b would be 806 > 800; c alone is over 800 and stays whole; "end" after it
    assert passages(text) == [f"intro\n\n{a}", b, c, "end"]
    x, y = "x" * 400, "y" * 400
    # 400 + 400 is not over 800 (the separator is not counted): one 802-character passage
    assert passages(f"{x}\n\n{y}") == [f"{x}\n\n{y}"]
    assert passages("line one\nline two") == ["line one\nline two"]  # a single newline is no paragraph break
    assert passages("") == [] and passages("\n\n  \n\n") == []


def test_an_image_is_one_segment_and_the_recipe_is_recorded(tmp_path):
    img = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(img)
    segs, _ = decompose(img, "image")
    assert [(s.segment_id, s.t0, s.t1, s.input.image) for s in segs] == [("image", None, None, img)]
    assert segmentation() == {"video": "fixed", "video_window": 10.0, "audio_window": 10.0, "audio_hop": 8.0,
                              "passage_chars": 800}  # fmt: skip
    assert segmentation("shots")["video"] == "shots"
    for call in (lambda: segmentation("scenes"), lambda: decompose(img, "video", video_mode="scenes")):
        with pytest.raises(ValueError, match=r"video segmentation must be one of \('fixed', 'shots'\)"):
            call()


def test_the_encode_limit_is_the_models_max_audio_seconds():
    model = SimpleNamespace(features=SimpleNamespace(media=SimpleNamespace(max_audio_seconds=30)))
    assert encode_limit(model) == 30.0
    assert encode_limit(object()) == ENCODE_SECONDS == 600.0  # a model without media settings
