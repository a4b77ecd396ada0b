"""omniret.inputs.media.pcm: decoded audio frames -> mono float32 at one rate, on the resampler's grid."""

from __future__ import annotations

import numpy as np

from tests.helpers.media import dominant_frequency, sine


def _frame(wave: np.ndarray, fmt: str, layout: str, rate: int):
    import av

    f = av.AudioFrame.from_ndarray(wave, format=fmt, layout=layout)
    f.sample_rate = rate
    return f


def test_a_stream_whose_frames_change_format_rate_and_layout_is_resampled_whole():
    """A damaged MP3 (the corpus of tests/inputs/media/test_corpus.py found it) switches sample format, rate
    and layout between frames; one libswresample context refuses that, so each change gets a new one."""
    from omniret.inputs.media.pcm import MonoResampler

    a = (sine(440.0, 1.0, 16000) * 32767).astype(np.int16)[None]  # s16 mono, 1 s at 16 kHz
    b = np.stack([sine(1000.0, 1.0, 22050)] * 2)  # fltp stereo, 1 s at 22.05 kHz
    r = MonoResampler(rate=16000)
    chunks = r.push(_frame(a, "s16", "mono", 16000)) + r.push(_frame(b, "fltp", "stereo", 22050)) + r.flush()
    wave = np.concatenate(chunks)
    assert abs(len(wave) - 32000) <= 64  # both seconds, at the target rate
    assert abs(dominant_frequency(wave[1000:15000], 16000) - 440) < 5
    assert abs(dominant_frequency(wave[17000:31000], 16000) - 1000) < 5
    assert r.flush() == []


def test_a_fresh_resampler_flushes_nothing_and_passes_mono_float_through():
    from omniret.inputs.media.pcm import MonoResampler

    r = MonoResampler(rate=16000)
    assert r.flush() == []
    wave = sine(300.0, 0.25, 16000)
    out = np.concatenate(r.push(_frame(wave[None], "flt", "mono", 16000)) + r.flush())
    assert out.dtype == np.float32 and len(out) == len(wave)  # same format, rate and layout: 1:1
    np.testing.assert_allclose(out, wave, atol=1e-6)


def test_align_drops_the_leading_samples_off_the_resampling_grid():
    """44.1 kHz -> 16 kHz: every 441st input sample (gcd 100) lands on an output sample. A frame whose first
    sample is input sample 100 loses 341 samples and then starts at sample 441, i.e. at 0.01 s."""
    from omniret.inputs.media.pcm import align

    wave = np.arange(1000, dtype=np.int16)[None]
    out, t = align(_frame(wave, "s16", "mono", 44100), 100 / 44100, 16000)
    assert t == 441 / 44100 and out.samples == 1000 - 341 and out.sample_rate == 44100
    assert out.to_ndarray()[0, 0] == 341  # the kept samples are the frame's own, from sample 341 on
    on_grid = _frame(wave, "s16", "mono", 44100)
    assert align(on_grid, 441 / 44100, 16000) == (on_grid, 441 / 44100)  # already on the grid: untouched
    short = _frame(wave[:, :300], "s16", "mono", 44100)
    assert align(short, 100 / 44100, 16000) == (None, 100 / 44100)  # all 300 samples are before the grid


def test_align_keeps_every_channel_of_a_packed_stereo_frame():
    from omniret.inputs.media.pcm import align

    packed = np.arange(2 * 500, dtype=np.int16)[None]  # s16 stereo is packed: L R L R ...
    out, t = align(_frame(packed, "s16", "stereo", 48000), 1 / 48000, 16000)  # step 3: drop 2 samples
    assert t == 3 / 48000 and out.samples == 498
    np.testing.assert_array_equal(out.to_ndarray()[0, :4], [4, 5, 6, 7])  # both channels of sample 2 on
