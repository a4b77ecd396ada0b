"""omniret.datasets.render: benchmark media synthesised with fixed settings: a video shows each image
for its seconds over a looped sound, byte-identical on every build; MIDI renders need FluidSynth."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from omniret.datasets import sources
from omniret.datasets.render import make_video, render_variants
from tests.helpers.media import dominant_frequency, sine


def frames_and_audio(path):
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = [f.to_ndarray() for f in container.decode(audio=0)] if container.streams.audio else []
    return frames, (np.concatenate(audio, axis=-1).reshape(-1) if audio else None)


def test_a_video_shows_each_image_in_turn_over_the_looped_sound(tmp_path):
    red, blue = Image.new("RGB", (20, 10), (255, 0, 0)), Image.new("RGB", (20, 10), (0, 0, 255))
    out = make_video([red, blue], sine(500, 0.5, 16000), tmp_path / "sub" / "v.mp4", fps=4, size=32)
    frames, audio = frames_and_audio(out)
    assert len(frames) == 2 * 4 and frames[0].shape == (32, 32, 3)  # fps x seconds each, resized square
    means = [f.reshape(-1, 3).mean(0) for f in frames]
    assert all(m[0] > 200 and m[2] < 60 for m in means[:4]) and all(
        m[2] > 200 and m[0] < 60 for m in means[4:]
    )
    # 0.5 s of sound looped over the 2 s, plus AAC's encoder delay and last-frame padding (1024 each)
    assert audio is not None and 32000 <= len(audio) <= 32000 + 2 * 1024
    assert abs(dominant_frequency(audio[4000:28000], 16000) - 500) < 20


def test_videos_are_byte_identical_and_silent_without_a_sound(tmp_path):
    img = Image.new("RGB", (8, 8), (0, 200, 0))
    a = make_video([img], None, tmp_path / "a.mp4", fps=2, size=16)
    b = make_video([img], None, tmp_path / "b.mp4", fps=2, size=16)
    assert a.read_bytes() == b.read_bytes()
    frames, audio = frames_and_audio(a)
    assert len(frames) == 2 and audio is None


@pytest.mark.slow
def test_midi_variants_render_to_trimmed_mono_wavs(tmp_path):
    if shutil.which("fluidsynth") is None or not sources.SOUNDFONT.is_file():
        pytest.skip("needs Debian packages fluidsynth and fluid-soundfont-gm")
    pytest.importorskip("mido")
    import soundfile as sf

    outs = [tmp_path / "low.wav", tmp_path / "high.wav"]
    render_variants(73, [("low", "fast", "loud"), ("high", "slow", "soft")], outs)  # GM 73: flute
    (low, rate), (high, _) = sf.read(outs[0]), sf.read(outs[1])
    assert rate == 16000 and low.ndim == high.ndim == 1
    assert len(low) < len(high) < 4 * 16000  # six fast notes end sooner; each slot cut at its 4 s
    assert np.abs(low[-10:]).max() > 1e-3  # trailing silence trimmed
    assert np.abs(low).max() > np.abs(high).max()  # velocity 115 against 50
