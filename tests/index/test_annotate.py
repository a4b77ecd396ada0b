"""Which words a recording's rows get: subtitles before the transcript, and the index's speech recipe."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from omniret.index.annotate import attach, choose, describe, recognizer
from omniret.index.decompose import Segment
from omniret.index.store import IndexMismatchError


class Tower:
    """A speech recogniser that says one fixed sentence from 1 s to 3 s, and counts its calls."""

    def __init__(self):
        self.calls = 0

    def speech_cues(self, wave, **_):
        self.calls += 1
        return [(1.0, 3.0, "from the tower")] if len(wave) > 16000 * 3 else []


def model_with(tower) -> SimpleNamespace:
    return SimpleNamespace(model=SimpleNamespace(towers={"audio": tower} if tower is not None else {}))


def windows() -> list[Segment]:
    return [Segment("whole", 0.0, 12.0, None), Segment("0.00-10.00", 0.0, 10.0, None),
            Segment("8.00-12.00", 8.0, 12.0, None)]  # fmt: skip


def test_the_recogniser_is_an_audio_tower_with_timed_cues():
    tower = Tower()
    assert recognizer(model_with(tower)) is tower
    assert recognizer(model_with(object())) is None  # an audio tower that cannot transcribe
    assert recognizer(model_with(None)) is None and recognizer(object()) is None
    assert describe(tower).startswith("Tower (greedy, temperature 0")


def test_a_new_index_transcribes_when_the_model_can_and_records_how():
    recipe, use = choose(None, "auto", model_with(Tower()))
    assert use is not None and recipe["transcripts"].startswith("Tower (greedy")
    recipe, use = choose(None, "auto", model_with(None))
    assert use is None and recipe == {"transcripts": "off", "subtitles": ".srt/.vtt beside the file"}
    recipe, use = choose(None, "off", model_with(Tower()))
    assert use is None and recipe["transcripts"] == "off"


def test_an_index_keeps_its_setting_and_refuses_a_different_explicit_one():
    on = {"transcripts": "Tower (greedy, ...)", "subtitles": ".srt/.vtt beside the file"}
    off = {"transcripts": "off", "subtitles": ".srt/.vtt beside the file"}
    assert choose(on, "auto", model_with(Tower()))[0] == on
    assert choose(off, "auto", model_with(Tower())) == (off, None)  # auto keeps "off" even when it could
    assert choose(on, "on", model_with(Tower()))[1] is not None
    with pytest.raises(IndexMismatchError, match="made with transcripts off; use another --db"):
        choose(off, "on", model_with(Tower()))
    with pytest.raises(IndexMismatchError, match="made with transcripts on"):
        choose(on, "off", model_with(Tower()))


def test_on_without_a_recogniser_and_an_unknown_setting_are_refused():
    with pytest.raises(ValueError, match="no speech recogniser"):
        choose(None, "on", model_with(None))
    with pytest.raises(ValueError, match="must be one of auto, on, off"):
        choose(None, "yes", model_with(Tower()))


def test_subtitles_beside_the_file_win_over_the_transcript(tmp_path, silent_wav):
    clip = silent_wav(tmp_path / "talk.wav", 12.0)
    (tmp_path / "talk.en.srt").write_text("1\n00:00:09,000 --> 00:00:11,000\nthe harbour crane\n")
    segs, tower, warnings = windows(), Tower(), []
    attach(clip, "audio", segs, 12.0, tower, warnings)
    assert tower.calls == 0 and warnings == []
    assert [s.speech for s in segs] == ["the harbour crane"] * 3  # 9-11 s overlaps both windows
    assert {(s.speech_lang, s.speech_source) for s in segs} == {("en", "subtitles")}


def test_unreadable_subtitles_are_a_warning_and_the_transcript_is_used(tmp_path, silent_wav):
    clip = silent_wav(tmp_path / "talk.wav", 12.0)
    (tmp_path / "talk.srt").write_bytes(b"\x00\x01 not subtitles at all \xff" * 20)
    segs, tower, warnings = windows(), Tower(), []
    attach(clip, "audio", segs, 12.0, tower, warnings)
    assert tower.calls == 1
    assert len(warnings) == 1 and "talk.srt ignored" in warnings[0][1]
    assert [s.speech for s in segs] == ["from the tower", "from the tower", None]
    assert segs[0].speech_source == "asr" and segs[0].speech_lang == "en"


def test_no_tower_no_subtitles_or_another_modality_leaves_rows_as_they_are(tmp_path, silent_wav):
    clip = silent_wav(tmp_path / "talk.wav", 12.0)
    segs = windows()
    attach(clip, "audio", segs, 12.0, None, [])
    attach(clip, "image", segs, 12.0, Tower(), [])
    assert all(s.speech is None and s.speech_source is None for s in segs)


@pytest.fixture
def silent_wav():
    import numpy as np

    from tests.helpers.media import write_audio

    def make(path, seconds):
        write_audio(path, np.zeros(int(16000 * seconds), np.float32), 16000)
        return path

    return make
