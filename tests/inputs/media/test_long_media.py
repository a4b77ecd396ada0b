"""Long media as a stream (issue 12, defect 3): recordings longer than one encode's limit are indexed
window by window, their whole row pooled from the windows, and spans seek instead of decoding it all."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.inputs.media import EmptyMediaError, MediaTooLargeError, load_audio
from omniret.inputs.media import audio as audio_mod
from omniret.inputs.media.audio import AudioSpan, audio_duration, decode_audio_stream, iter_audio_windows
from tests.helpers.media import dominant_frequency, sine, write_audio

pytest.importorskip("lancedb")

LONG_SECONDS = 720.0  # over the 600 s limit of one encode (MediaConfig.max_audio_seconds)
RATE = 8000  # cheap to write and to decode; every window is resampled to 16 kHz
MARKS = {(400.0, 410.0): 1000.0, (704.0, 714.0): 2000.0}  # seconds -> a tone marking them (else 300 Hz)


def write_long(path, seconds: float, marks: dict) -> object:
    """A quiet 300 Hz tone at 8 kHz with louder marked sections, written a minute at a time."""
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for start in range(0, int(seconds), 60):
            t = start + np.arange(int(min(60, seconds - start) * RATE)) / RATE
            freq, amp = np.full(t.shape, 300.0), np.full(t.shape, 0.1)
            for (a, b), f_mark in marks.items():
                inside = (t >= a) & (t < b)
                freq[inside], amp[inside] = f_mark, 0.5
            f.write((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    """12 minutes, with two marked sections."""
    return write_long(tmp_path_factory.mktemp("long") / "long.wav", LONG_SECONDS, MARKS)


@pytest.fixture(scope="module")
def ckpt(hf_dirs, tmp_path_factory):
    """The tiny real-architecture model (random weights) as a checkpoint, its Whisper encoder taking a
    10 s window in one call (the shared tiny one takes 0.32 s: 32 calls per window)."""
    import torch

    from omniret.checkpoint import save_checkpoint
    from omniret.config import ModelConfig, from_dict
    from omniret.model import OmniRet
    from tests.conftest import local_config_dict, tiny_config_dict

    data = local_config_dict(hf_dirs)
    data["towers"]["audio"] = tiny_config_dict()["towers"]["audio"]  # built from its config, no path
    data["towers"]["audio"]["hf_config"]["max_source_positions"] = 500
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(OmniRet.build(from_dict(ModelConfig, data)), path)
    return path


def _no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the input should have been refused first")

    monkeypatch.setattr(audio_mod, "decode_audio", refuse)
    monkeypatch.setattr(audio_mod, "iter_audio_windows", refuse)


# ------------------------------------------------------------------ decoding window by window


@pytest.mark.parametrize(
    ("suffix", "rate"), [(".wav", 16000), (".wav", 8000), (".flac", 22050), (".mp3", 16000)]
)
def test_a_window_decoded_after_a_seek_equals_the_whole_decode_sliced(tmp_path, suffix, rate):
    wave = (np.random.default_rng(0).standard_normal(30 * rate) * 0.1).astype(np.float32)
    path = str(write_audio(tmp_path / f"noise{suffix}", wave, rate))
    whole = decode_audio_stream(path, "noise")  # every sample, from the start
    spans = [(0.0, 10.0), (8.0, 18.0), (12.3, 22.3), (25.5, 31.0)]  # the last one runs past the end
    for t0, t1, win in iter_audio_windows(path, spans, name="noise"):
        np.testing.assert_array_equal(win, whole[int(t0 * 16000) : int(t1 * 16000)])
    if suffix == ".wav" and rate == 16000:  # the soundfile decode of short files agrees too
        np.testing.assert_array_equal(
            load_audio(AudioSpan(path, 12.3, 22.3)), load_audio(path)[196800:356800]
        )


def test_a_span_of_a_long_file_decodes_only_its_part(long_wav):
    stats: dict = {}
    ((_, _, win),) = iter_audio_windows(str(long_wav), [(704.0, 714.0)], name="long", stats=stats)
    assert len(win) == 160000 and dominant_frequency(win, 16000) == pytest.approx(2000, abs=5)
    # the decoder saw the window plus its pre-roll and post-roll, not the 12 minutes before it
    assert stats["seconds"] <= 10 + 2 * audio_mod.PRE_ROLL + 0.2 and stats["frames"] < 300
    whole = decode_audio_stream(str(long_wav), "long")
    np.testing.assert_array_equal(win, whole[704 * 16000 : 714 * 16000])


def test_load_audio_seeks_into_a_long_file(long_wav, monkeypatch):
    seen: list = []
    real = audio_mod.iter_audio_windows

    def spy(source, spans, **kw):
        seen.append(kw.setdefault("stats", {}))  # filled while the window is decoded
        yield from real(source, spans, **kw)

    monkeypatch.setattr(audio_mod, "iter_audio_windows", spy)
    monkeypatch.setattr(audio_mod, "decode_audio", lambda *a, **k: pytest.fail("decoded the whole file"))
    piece = load_audio(long_wav, span=(400.0, 410.0), max_seconds=600)
    assert len(piece) == 160000 and dominant_frequency(piece, 16000) == pytest.approx(1000, abs=5)
    assert len(seen) == 1 and seen[0]["seconds"] < 11  # one window decoded, not 400 s before it
    np.testing.assert_array_equal(load_audio(AudioSpan(long_wav, 400.0, 410.0), max_seconds=600), piece)


def test_long_inputs_and_spans_are_refused_before_decoding(long_wav, monkeypatch):
    _no_decoding(monkeypatch)
    with pytest.raises(MediaTooLargeError, match=r"long\.wav: audio is 720 s, over the 600 s limit"):
        load_audio(long_wav, max_seconds=600)
    with pytest.raises(MediaTooLargeError, match=r"span 0-700 s is 700 s long, over the 600 s limit"):
        load_audio(long_wav, span=(0.0, 700.0), max_seconds=600)
    with pytest.raises(EmptyMediaError) as err:
        load_audio(long_wav, span=(800.0, 805.0), max_seconds=600)
    assert "\n" not in str(err.value) and "starts after the end of the recording (720.0 s)" in str(err.value)
    assert audio_duration(str(long_wav)) == pytest.approx(LONG_SECONDS)


def test_a_short_file_span_is_sliced_as_before(tmp_path):
    path = write_audio(tmp_path / "tone.flac", sine(440, 12.0, 44100), 44100)
    whole = load_audio(path)  # soundfile + soxr, as always for files up to WHOLE_DECODE_SECONDS
    np.testing.assert_array_equal(load_audio(path, span=(2.5, 7.25)), whole[40000:116000])
    with pytest.raises(EmptyMediaError, match=r"tone\.flac: span 13-14 s starts after the end"):
        load_audio(path, span=(13.0, 14.0))


def test_a_file_is_hashed_once_for_all_its_windows_with_its_usual_key(tmp_path, monkeypatch):
    import hashlib

    from omniret.inputs import features

    path = write_long(tmp_path / "hashed.wav", 60.0, {})
    calls: list = []
    real = features.file_digest
    monkeypatch.setattr(features, "file_digest", lambda p, **kw: calls.append(p) or real(p, **kw))
    keys = {features.source_id(AudioSpan(path, t, t + 10.0))[0] for t in range(0, 50, 8)}
    h, payload, _ = features.source_id(path)
    assert len(calls) == 1 and len(keys) == 7  # one streamed hash; one key per window
    assert h == hashlib.sha256(path.read_bytes()).hexdigest() and payload == str(path)  # left on disk


# ------------------------------------------------------------------ encoding and indexing


def test_encode_spans_of_a_long_file_and_refuse_the_whole(long_wav, ckpt, monkeypatch):
    from omniret.api import load_model
    from omniret.inputs import OmniInput

    model = load_model(ckpt, cache=False)
    span, window = model.encode([OmniInput(audio=long_wav, span=(400.0, 410.0)),
                                 OmniInput(audio=AudioSpan(long_wav, 400.0, 410.0))])  # fmt: skip
    np.testing.assert_allclose(span, window, atol=1e-6)
    calls: list = []  # transcript hints of a span get an AudioSpan: they decode the span, not the file
    monkeypatch.setattr(
        model.hints, "audio", lambda srcs, span=None: calls.append((srcs, span)) or [None] * len(srcs)
    )
    tone = (sine(440, 20.0, 16000), 16000)
    model.pipeline._audio_hints([str(long_wav), tone], (400.0, 410.0))
    assert calls[0] == ([AudioSpan(long_wav, 400.0, 410.0)], None) and calls[1][1] == (400.0, 410.0)
    _no_decoding(monkeypatch)
    with pytest.raises(MediaTooLargeError, match=r"over the 600 s limit"):
        model.encode([OmniInput(audio=long_wav)])
    with pytest.raises(MediaTooLargeError, match=r"over the 600 s limit of one encode"):
        model.encode([OmniInput(audio=long_wav, span=(0.0, 601.0))])


@pytest.mark.parametrize(
    ("seconds", "limit"),
    [(100.0, 60.0), pytest.param(LONG_SECONDS, 600.0, marks=pytest.mark.slow)],  # 91 windows: ~10-20 s
)
def test_a_long_recording_is_indexed_whole_and_window_by_window(seconds, limit, long_wav, ckpt, tmp_path):
    from omniret.api import load_model
    from omniret.index import Index
    from omniret.index.decompose import AUDIO_HOP, AUDIO_WINDOW, windows
    from omniret.inputs import OmniInput

    path = (
        long_wav if seconds == LONG_SECONDS else write_long(tmp_path / "long.wav", seconds, {(40, 50): 1e3})
    )
    ix = Index(
        tmp_path / "db", model=load_model(ckpt, cache=False, overrides=[f"media.max_audio_seconds={limit}"])
    )
    spans = windows(seconds, AUDIO_WINDOW, AUDIO_HOP)
    report = ix.add([path])
    assert not report.skipped and report.rows_written == len(spans) + 1
    t = ix.store.table().to_arrow()
    rows = {s: (t0, t1, np.array(v)) for s, t0, t1, v in zip(*(t[c].to_pylist() for c in
            ("segment_id", "t0", "t1", "vector")), strict=True)}  # fmt: skip
    assert set(rows) == {"whole"} | {f"{a:.2f}-{b:.2f}" for a, b in spans}  # every window, nothing dropped
    assert rows["whole"][:2] == (0.0, seconds)
    win = [rows[f"{a:.2f}-{b:.2f}"] for a, b in spans]
    mean = sum((t1 - t0) * v.astype(np.float64) for t0, t1, v in win) / sum(t1 - t0 for t0, t1, _ in win)
    np.testing.assert_allclose(rows["whole"][2], mean / np.linalg.norm(mean), atol=1e-6)
    # a window row is what encoding that span of the file gives
    probe = ix.model.encode([OmniInput(audio=path, span=(40.0, 50.0))])[0]
    np.testing.assert_allclose(rows["40.00-50.00"][2], probe, atol=1e-5)


def test_short_recordings_keep_their_encoded_whole_row(tmp_path, ckpt):
    from omniret.api import load_model
    from omniret.index import Index
    from omniret.index.decompose import decompose
    from omniret.inputs import OmniInput

    (tmp_path / "media").mkdir()
    path = write_audio(tmp_path / "media" / "tone.wav", sine(440, 12.0, 16000), 16000)
    segs, _ = decompose(path, "audio")
    assert [s.segment_id for s in segs] == ["whole", "0.00-10.00", "2.00-12.00"] and not any(
        s.pooled for s in segs
    )
    assert all(isinstance(s.input.audio, tuple) for s in segs)  # decoded once, in-memory slices, as before
    ix = Index(tmp_path / "db", model=load_model(ckpt, cache=False))
    ix.add([tmp_path / "media"])
    t = ix.store.table().to_arrow()
    got = dict(zip(t["segment_id"].to_pylist(), map(np.array, t["vector"].to_pylist()), strict=True))
    wave = load_audio(path)
    want = ix.model.encode([OmniInput(audio=(wave, 16000)), OmniInput(audio=(wave[:160000], 16000))])
    np.testing.assert_allclose(got["whole"], want[0], atol=1e-6)  # one encode of the whole recording
    np.testing.assert_allclose(got["0.00-10.00"], want[1], atol=1e-6)


def test_a_long_video_gets_a_pooled_whole_row_and_its_track_is_never_decoded_whole(tmp_path, ckpt):
    """With the limit of one encode lowered to 20 s, a 35 s video is a long one."""
    from omniret.api import load_model
    from omniret.index import Index
    from omniret.inputs import OmniInput
    from tests.helpers.media import write_video

    (tmp_path / "media").mkdir()
    path = write_video(tmp_path / "media" / "clip.mp4", [(i * 7 % 256, 0, 255 - i * 7 % 256) for i in range(35)],
                       fps=2, size=32)  # fmt: skip
    model = load_model(ckpt, cache=False, overrides=["media.max_audio_seconds=20"])
    with pytest.raises(
        MediaTooLargeError, match=r"clip\.mp4: video is 35 s, so its audio track is over the 20 s"
    ):
        model.encode([OmniInput(video=path)])
    with pytest.raises(EmptyMediaError, match=r"span 40-45 s starts after the end of the video \(35\.0 s\)"):
        model.encode([OmniInput(video=path, span=(40.0, 45.0))])
    ix = Index(tmp_path / "db", model=model)
    assert not ix.add([tmp_path / "media"]).skipped
    t = ix.store.table().to_arrow()
    rows = {s: (t0, t1, np.array(v)) for s, t0, t1, v in zip(*(t[c].to_pylist() for c in
            ("segment_id", "t0", "t1", "vector")), strict=True)}  # fmt: skip
    assert set(rows) == {"whole", "0.00-10.00", "10.00-20.00", "20.00-30.00", "25.00-35.00"}
    win = [v for s, v in rows.items() if s != "whole"]
    mean = sum((t1 - t0) * v.astype(np.float64) for t0, t1, v in win)
    np.testing.assert_allclose(rows["whole"][2], mean / np.linalg.norm(mean), atol=1e-6)
    assert t["keyframe"].to_pylist()[t["segment_id"].to_pylist().index("whole")]  # still has a picture
