"""omniret.inputs.media.video: frames sampled uniformly or at keyframes, with times and the audio track."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.inputs.media import EmptyMediaError, MediaError, WrongModalityError, load_video
from omniret.inputs.media.video import _stream_pick, thumbnail, video_duration
from tests.helpers.media import dominant_frequency, sine, write_audio, write_video

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def _close(pixel, colour, tol=12):
    return all(abs(a - b) <= tol for a, b in zip(pixel, colour, strict=True))


def test_video_uniform_frames_timestamps_and_audio(tmp_path):
    path = write_video(tmp_path / "rgb.mp4", COLOURS)
    clip = load_video(path, max_frames=3)
    assert clip.duration == pytest.approx(3.0, abs=0.05)
    assert clip.timestamps == pytest.approx([0.5, 1.5, 2.5], abs=0.06)
    assert all(_close(f.getpixel((10, 10)), c) for f, c in zip(clip.frames, COLOURS, strict=True))
    assert dominant_frequency(clip.audio, 16000) == pytest.approx(440, abs=3)
    assert abs(len(clip.audio) / 16000 - 3.0) < 0.15


def test_video_span_audio_comes_from_that_span_alone(tmp_path):
    """A moment's audio is decoded after a seek (not the whole track each time): one second per tone."""
    from PIL import Image

    from omniret.datasets.render import make_video

    tones = [440.0, 880.0, 1320.0, 660.0]
    wave = np.concatenate([sine(f, 1.0, 16000) for f in tones])
    frames = [Image.new("RGB", (32, 32), (i * 60, 0, 0)) for i in range(len(tones))]
    path = make_video(frames, wave, tmp_path / "tones.mp4", seconds_each=1.0, fps=10, size=32)
    for i, f in enumerate(tones[1:], 1):
        clip = load_video(path, max_frames=1, start=i + 0.1, end=i + 0.9)
        assert len(clip.audio) / 16000 == pytest.approx(0.8, abs=0.03)
        assert dominant_frequency(clip.audio, 16000) == pytest.approx(f, abs=15)
        from_bytes = load_video(path.read_bytes(), max_frames=1, start=i + 0.1, end=i + 0.9)
        np.testing.assert_allclose(from_bytes.audio, clip.audio)  # path (streamed) and bytes agree


def test_video_span_keyframes_and_cap(tmp_path):
    path = write_video(tmp_path / "rgb.mp4", COLOURS)
    span = load_video(path, max_frames=2, start=1.0, end=2.0)
    assert all(1.0 <= t <= 2.0 for t in span.timestamps) and all(
        _close(f.getpixel((5, 5)), COLOURS[1]) for f in span.frames
    )
    assert abs(len(span.audio) / 16000 - 1.0) < 0.05
    keys = load_video(path, max_frames=8, sampling="keyframe")
    assert keys.timestamps == pytest.approx([0.0, 1.0, 2.0], abs=0.01)  # one keyframe per second
    assert len(load_video(path, max_frames=2, sampling="keyframe").frames) == 2
    silent = load_video(write_video(tmp_path / "silent.mp4", COLOURS[:1], tone=None), max_frames=4)
    assert silent.audio is None and len(silent.frames) == 4


def test_video_errors_name_the_file(tmp_path):
    path = write_video(tmp_path / "ok.mp4", COLOURS)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:200])
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        load_video(tmp_path / "cut.mp4")
    wav = write_audio(tmp_path / "a.wav", sine(440, 0.2, 16000), 16000)
    with pytest.raises(WrongModalityError, match=r"a\.wav: expected a video but the content is audio"):
        load_video(wav)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.mp4"):
        load_video(tmp_path / "empty.mp4")


class _Frame:
    """What ``_stream_pick`` reads of a decoded PyAV frame: its time and its picture."""

    def __init__(self, t: float) -> None:
        self.time = t

    def to_image(self) -> str:
        return f"frame@{self.time:g}"


def test_uniform_pick_keeps_the_frame_nearest_each_target_time():
    """k=2 over [0, 10): targets 2.5 and 7.5; frames 2 and 3 tie for the first, the earlier one is kept."""
    frames = [_Frame(t) for t in range(10)]
    assert _stream_pick(iter(frames), 2, 0.0, 10.0, uniform=True) == [(2.0, "frame@2"), (7.0, "frame@7")]
    # inside a span [4, 8]: targets 5 and 7, frames before 4 skipped, decoding stops after 8
    assert _stream_pick(iter(frames), 2, 4.0, 8.0, uniform=True) == [(5.0, "frame@5"), (7.0, "frame@7")]


def test_keyframe_pick_spreads_k_evenly_over_all_keyframes():
    frames = [_Frame(t) for t in range(10)]
    picked = _stream_pick(iter(frames), 4, 0.0, 10.0, uniform=False)
    assert [t for t, _ in picked] == [0.0, 3.0, 6.0, 9.0]  # indices linspace(0, 9, 4)
    assert len(_stream_pick(iter(frames[:2]), 4, 0.0, 10.0, uniform=False)) == 2  # fewer keys than k


def test_sampling_must_be_uniform_or_keyframe(tmp_path):
    with pytest.raises(ValueError, match=r"sampling must be 'uniform' or 'keyframe', got 'random'"):
        load_video(tmp_path / "never-read.mp4", sampling="random")


def test_duration_from_headers_and_thumbnail_of_the_moment(tmp_path):
    path = write_video(tmp_path / "rgb.mp4", COLOURS, size=32)
    assert video_duration(path) == pytest.approx(3.0, abs=0.05)
    assert video_duration(path.read_bytes()) == pytest.approx(3.0, abs=0.05)
    wav = write_audio(tmp_path / "a.wav", sine(440, 0.5, 16000), 16000)
    assert video_duration(wav) is None and video_duration(b"not a video") is None
    jpeg = thumbnail(path, 1.5, max_side=16)
    from io import BytesIO

    from PIL import Image

    img = Image.open(BytesIO(jpeg))
    assert img.format == "JPEG" and max(img.size) == 16
    assert _close(img.getpixel((8, 8)), COLOURS[1], tol=30)  # the frame shown at 1.5 s is green
    assert thumbnail(wav, 0.0) is None  # no video stream: no picture, no error
