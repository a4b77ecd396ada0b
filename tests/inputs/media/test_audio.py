"""omniret.inputs.media.audio: any audio file, array or span -> 16 kHz mono float32, refusals by name.

Long recordings read window by window are tested in test_long_media.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    WrongModalityError,
    load_audio,
)
from omniret.inputs.media.audio import AudioSpan, _wav_shortfall, cut
from tests.helpers.media import dominant_frequency, png_bytes, sine, write_audio


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".m4a"])
def test_audio_round_trip_to_16k_mono(tmp_path, suffix):
    path = write_audio(
        tmp_path / f"tone{suffix}", sine(440, 2.0, 44100, channels=2 if suffix != ".mp3" else 1), 44100
    )
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) / 16000 - 2.0) < 0.1  # codecs may pad a few ms
    assert dominant_frequency(wave, 16000) == pytest.approx(440, abs=3)
    rms = np.sqrt((wave[2000:-2000] ** 2).mean())
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.1)  # amplitude 0.5 survives decoding and resampling


def test_audio_arrays_and_resampling():
    wave = load_audio((sine(1000, 1.0, 8000), 8000))
    assert len(wave) == 16000 and dominant_frequency(wave, 16000) == pytest.approx(1000, abs=2)
    with pytest.raises(EmptyMediaError):
        load_audio(np.zeros(0, np.float32))
    with pytest.raises(CorruptMediaError, match="NaN"):
        load_audio(np.array([0.0, np.nan], np.float32))


def test_audio_errors_name_the_file(tmp_path):
    path = write_audio(tmp_path / "long.wav", sine(440, 1.0, 16000), 16000)
    data = path.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match=r"cut\.wav: truncated"):
        load_audio(tmp_path / "cut.wav")
    with pytest.raises(MediaTooLargeError, match=r"long\.wav: audio is 1 s"):
        load_audio(path, max_seconds=0.5)
    (tmp_path / "pic.wav").write_bytes(png_bytes(Image.new("RGB", (4, 4))))
    with pytest.raises(WrongModalityError, match=r"pic\.wav: expected audio but the content is an image"):
        load_audio(tmp_path / "pic.wav")
    (tmp_path / "junk.mp3").write_bytes(b"\xff\xfb" + bytes(1000))
    with pytest.raises(MediaError, match=r"junk\.mp3"):
        load_audio(tmp_path / "junk.mp3")


def test_multichannel_arrays_are_averaged_to_mono():
    stereo = np.array([[0.2, 0.4], [0.6, 0.0], [-1.0, 1.0]], np.float32)  # (n, channels)
    np.testing.assert_allclose(load_audio(stereo), [0.3, 0.3, 0.0])
    np.testing.assert_allclose(load_audio((stereo, 16000)), [0.3, 0.3, 0.0])  # same rate: not resampled


def test_array_spans_are_cut_on_the_sample_grid_and_refused_outside():
    wave = np.arange(32000, dtype=np.float32) / 32000  # 2 s at 16 kHz, sample i holds i / 32000
    piece = load_audio(wave, span=(0.5, 1.25))
    assert len(piece) == 12000 and piece[0] == 8000 / 32000  # samples int(0.5*16000):int(1.25*16000)
    with pytest.raises(EmptyMediaError, match=r"span \(3\.0, 4\.0\) is outside the 2\.0 s clip"):
        cut(wave, (3.0, 4.0), "<array>")
    with pytest.raises(EmptyMediaError, match=r"span 1-1 s is empty"):
        load_audio(wave, span=(1.0, 1.0))
    with pytest.raises(MediaTooLargeError, match=r"span 0-2 s is 2 s long, over the 1 s limit"):
        load_audio(wave, span=(0.0, 2.0), max_seconds=1.0)
    assert cut(wave, None, "<array>") is wave


def test_audio_span_checks_its_fields_and_is_not_given_a_second_span(tmp_path):
    path = tmp_path / "a.wav"
    span = AudioSpan(path, 1.0, 2.5)
    assert span.source == str(path) and repr(span) == f"AudioSpan({str(path)!r}, 1, 2.5)"
    assert span == AudioSpan(str(path), 1.0, 2.5)  # a path and its string are the same span
    with pytest.raises(TypeError, match=r"AudioSpan\.source must be a path or bytes, got int"):
        AudioSpan(5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"0 <= t0 < t1, got \(2\.0, 1\.0\)"):
        AudioSpan(path, 2.0, 1.0)
    with pytest.raises(ValueError, match=r"got \(nan, 1\.0\)"):
        AudioSpan(path, float("nan"), 1.0)
    with pytest.raises(ValueError, match="already has its span"):
        load_audio(span, span=(0.0, 1.0))


def test_wav_shortfall_counts_the_bytes_a_data_chunk_is_missing():
    """libsndfile reads a truncated WAV without complaint; the header says how many bytes should follow."""

    def wav(declared: int, present: int) -> bytes:
        fmt = b"fmt " + (16).to_bytes(4, "little") + bytes(16)
        return b"RIFF" + bytes(4) + b"WAVE" + fmt + b"data" + declared.to_bytes(4, "little") + bytes(present)

    assert _wav_shortfall(wav(100, 100)) == 0
    assert _wav_shortfall(wav(100, 60)) == 40
    assert _wav_shortfall(wav(100, 60)[:44], total=44 + 100) == 0  # a head of a whole file
    assert _wav_shortfall(wav(0xFFFFFFFF, 10)) == 0  # streamed WAVs declare "unknown length"
    assert _wav_shortfall(b"fLaC" + bytes(40)) == 0
