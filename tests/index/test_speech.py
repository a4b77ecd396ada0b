"""What is said in a window: sidecar subtitles (parsed by hand-written files), cue alignment to windows,
Whisper cues over a chunked recording, and filling segments."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from omniret.index.decompose import Segment
from omniret.index.speech import (
    WHOLE_CHARS,
    Cue,
    align,
    find_subtitles,
    read_subtitles,
    speech_for,
    transcribe_cues,
)
from omniret.inputs.media import CorruptMediaError
from tests.helpers.media import sine, write_audio, write_video
from tests.helpers.speech import spoken_wav

SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> {\\i1}there{\\i0}
second <b>line</b>

2
00:00:03,000 --> 00:00:04,000

3
00:00:00,200 --> 00:00:00,900
{\\an8}First &amp; foremost
"""

VTT = """WEBVTT
Kind: captions

NOTE written by hand

intro
00:01.000 --> 00:03.250 align:start position:10%
<v Bob>Bonjour à <b>tous</b></v>
<c.yellow>deuxième</c> ligne

00:00:04.000 --> 00:00:05.000
<i> </i>

01:00:06.500 --> 01:00:07.000
a &lt; b &amp; c
"""


def test_srt_with_bom_tags_and_multiline_cues(tmp_path):
    path = tmp_path / "talk.srt"
    path.write_bytes(b"\xef\xbb\xbf" + SRT.encode())
    assert read_subtitles(path) == [
        Cue(0.2, 0.9, "First & foremost"),  # sorted by start; {\an8} and the entity are not words
        Cue(1.0, 2.5, "Hello there second line"),  # tags gone, lines joined; the empty cue 2 dropped
    ]


def test_latin1_srt_and_empty_file(tmp_path):
    path = tmp_path / "old.srt"
    path.write_bytes(
        '1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9 <font color="red">cr\xe8me</font>\n'.encode("latin-1")
    )
    assert read_subtitles(path) == [Cue(1.0, 2.0, "café crème")]
    (tmp_path / "empty.srt").write_text("\n \n")
    assert read_subtitles(tmp_path / "empty.srt") == []


def test_vtt_voice_and_class_tags_settings_and_hours(tmp_path):
    path = tmp_path / "clip.fr.vtt"
    path.write_text(VTT, encoding="utf-8")
    assert read_subtitles(path) == [
        Cue(1.0, 3.25, "Bonjour à tous deuxième ligne"),
        Cue(3606.5, 3607.0, "a < b & c"),
    ]


def test_unparseable_subtitles_raise_corrupt_media_naming_the_file(tmp_path):
    path = tmp_path / "broken.srt"
    path.write_bytes(b"\x00\x01 this is not a subtitle file\nno timings at all\n")
    with pytest.raises(CorruptMediaError, match=r"broken\.srt: cannot parse subtitles") as err:
        read_subtitles(path)
    assert err.value.source == str(path)


def test_find_subtitles_order_languages_and_what_is_ignored(tmp_path):
    for name in ["clip.mp4", "clip.srt", "clip.vtt", "clip.fr.vtt", "clip.en-GB.srt", "clip.eng.srt",
                 "clip.DE.SRT", "clip.forced.srt", "clip.txt", "clipper.srt", "other.srt", "clip.fr.ass"]:  # fmt: skip
        (tmp_path / name).write_text("")
    (tmp_path / "clip.es.srt").mkdir()  # a directory is not a subtitle file
    found = [(p.name, lang) for p, lang in find_subtitles(tmp_path / "clip.mp4")]
    assert found == [("clip.srt", None), ("clip.vtt", None), ("clip.DE.SRT", "de"),
                     ("clip.en-GB.srt", "en-gb"), ("clip.eng.srt", "eng"), ("clip.fr.vtt", "fr")]  # fmt: skip
    (tmp_path / "x.srt").mkdir()
    assert find_subtitles(tmp_path / "x.mp3") == []


WINDOWS = [(0.0, 10.0), (8.0, 18.0), (16.0, 26.0)]  # a 26 s recording's audio windows (10 s, hop 8 s)
CUES = [
    Cue(1.0, 3.0, "alpha"),
    Cue(9.0, 12.0, "bravo"),  # straddles windows 0 (1 s inside) and 1
    Cue(17.99, 20.0, "charlie"),  # 0.01 s inside window 1: not in it
    Cue(20.0, 21.0, "charlie"),  # a repeat right after: kept once
    Cue(24.0, 24.0, "echo"),  # zero-length: its midpoint 24.0 is in window 2 only
]


def test_align_by_overlap_with_repeats_removed():
    assert align(CUES, WINDOWS) == ["alpha bravo", "bravo", "charlie echo"]
    assert align(CUES[::-1], WINDOWS) == ["alpha bravo", "bravo", "charlie echo"]  # input order irrelevant
    assert align(CUES, [(30.0, 40.0), (3.0, 9.0), (0.0, 26.0)]) == [None, None, "alpha bravo charlie echo"]
    assert align([Cue(10.0, 12.0, "b")], [(0.0, 10.0), (0.0, 10.06)]) == [None, "b"]  # 0 s vs 0.06 s inside
    assert align([Cue(0, 1, "x"), Cue(1, 2, "y"), Cue(2, 3, "x")], [(0.0, 3.0)]) == ["x y x"]
    assert align(CUES, []) == []
    assert align([], WINDOWS) == [None, None, None]


def _segments() -> list[Segment]:
    whole = Segment("whole", 0.0, 26.0, None)
    wins = [Segment(f"{a:.2f}-{b:.2f}", a, b, None) for a, b in WINDOWS]
    return [whole, *wins, Segment("late", 30.0, 40.0, None), Segment("image", None, None, None)]


def test_speech_for_fills_timed_segments_only():
    segs = _segments()
    speech_for(segs, CUES, source="subtitles", language="fr")
    assert [s.speech for s in segs] == ["alpha bravo charlie echo", "alpha bravo", "bravo", "charlie echo",
                                        None, None]  # fmt: skip
    assert {(s.speech_lang, s.speech_source) for s in segs[:4]} == {("fr", "subtitles")}
    assert [(s.speech_lang, s.speech_source) for s in segs[4:]] == [(None, None)] * 2


def test_whole_transcript_is_capped_at_a_word():
    cues = [Cue(i * 0.02, i * 0.02 + 0.01, f"w{i:04d}") for i in range(1000)]  # 1000 x 5 chars + spaces
    segs = _segments()
    speech_for(segs, cues, source="asr", language="en")
    whole = segs[0].speech
    assert len(whole) == 3995 and whole.split() == [f"w{i:04d}" for i in range(666)]  # 667 words: 4001 chars
    assert WHOLE_CHARS == 4000 and segs[1].speech.startswith("w0000 w0001") and segs[4].speech is None


class FakeTower:
    """Says "chunk N" from 1 s to 2 s of every wave it hears, and remembers each wave's length."""

    def __init__(self):
        self.heard = []

    def speech_cues(self, wave, *, language, no_speech_max, min_avg_logprob):
        self.heard.append(round(wave.size / 16000, 3))
        return [(1.0, 2.0, f"chunk {len(self.heard)}")]


def test_transcribe_cues_chunks_offset_and_missing_audio(tmp_path):
    path = write_audio(tmp_path / "tone.wav", sine(440, 25.0, 16000), 16000)
    tower = FakeTower()
    cues = transcribe_cues(tower, path, 25.0, chunk_seconds=10.0)
    assert tower.heard == [10.0, 10.0, 5.0]
    assert cues == [Cue(1.0, 2.0, "chunk 1"), Cue(11.0, 12.0, "chunk 2"), Cue(21.0, 22.0, "chunk 3")]
    tower = FakeTower()  # headers that overstate the length: decoding stops at the real end
    assert len(transcribe_cues(tower, path, 40.0, chunk_seconds=10.0)) == 3 and tower.heard == [10, 10, 5]
    silent_video = write_video(tmp_path / "mute.mp4", [(255, 0, 0), (0, 0, 255)], tone=None, size=32)
    tower = FakeTower()
    assert transcribe_cues(tower, silent_video, 2.0) == [] and tower.heard == []


@pytest.fixture(scope="module")
def whisper():
    from omniret.assets import asset_path
    from omniret.towers.packaged import WhisperCT2Tower

    return WhisperCT2Tower(path=asset_path("whisper-tiny-en"))


def test_whisper_cues_land_in_the_right_chunk(whisper, tmp_path):
    path = spoken_wav(
        tmp_path / "meeting.wav", "the quarterly budget meeting starts at noon", lead_silence=12.0
    )
    duration = sf.info(path).duration
    began = time.perf_counter()
    cues = transcribe_cues(whisper, path, duration, chunk_seconds=10.0)  # chunks 0-10 s and 10-14.6 s
    print(f"whisper: {time.perf_counter() - began:.2f} s for {duration:.1f} s of audio")
    said = [c for c in cues if "budget" in c.text.lower()]
    assert len(said) == 1, cues
    assert 11.0 <= said[0].start <= 12.5, cues  # speech begins at 12 s: the chunk's offset was applied
    assert said[0].start < said[0].end <= duration
    assert "noon" in said[0].text.lower()
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(15 * 16000, np.float32), 16000)
    assert transcribe_cues(whisper, silence, 15.0, chunk_seconds=10.0) == []
