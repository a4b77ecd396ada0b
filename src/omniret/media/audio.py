"""Audio: wav/flac/ogg (soundfile) and mp3/m4a/anything FFmpeg reads (PyAV) -> 16 kHz mono float32."""

from __future__ import annotations

import io

import numpy as np

from omniret.media.errors import CorruptMediaError, EmptyMediaError, MediaTooLargeError, WrongModalityError
from omniret.media.source import describe, read_bytes, sniff

SAMPLE_RATE = 16000
MAX_SECONDS = 4 * 3600.0


def load_audio(
    src, *, sample_rate: int = SAMPLE_RATE, max_seconds: float = MAX_SECONDS, name: str | None = None
) -> np.ndarray:
    """Path, bytes, a float array at ``sample_rate``, or an (array, rate) tuple -> mono float32 (n,)."""
    if isinstance(src, tuple) and len(src) == 2 and isinstance(src[0], np.ndarray):
        return _check(resample(_mono(src[0]), int(src[1]), sample_rate), "<array>", sample_rate, max_seconds)
    if isinstance(src, np.ndarray):
        return _check(_mono(src), "<array>", sample_rate, max_seconds)
    data = read_bytes(src)
    name = name or describe(src)
    return _check(decode_audio(data, name, sample_rate=sample_rate), name, sample_rate, max_seconds)


def decode_audio(data: bytes, name: str, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    kind = sniff(data)
    if kind == "image":
        raise WrongModalityError(name, "expected audio but the content is an image")
    if kind == "text":
        raise WrongModalityError(name, "expected audio but the content is text")
    short = _wav_shortfall(data)
    if short > 0:
        raise CorruptMediaError(
            name, f"truncated: the WAV data chunk is {short} bytes shorter than its header says"
        )
    if data[:4] in (b"RIFF", b"fLaC", b"OggS"):
        try:
            return _decode_soundfile(data, sample_rate)
        except CorruptMediaError as err:
            raise CorruptMediaError(name, err.reason) from None
        except RuntimeError:
            pass  # e.g. Ogg Opus/Vorbis variants libsndfile lacks: let FFmpeg try
    return decode_audio_stream(data, name, sample_rate=sample_rate)


def _decode_soundfile(data: bytes, sample_rate: int) -> np.ndarray:
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        raise RuntimeError(str(err)) from None
    if info.frames > 0 and wave.shape[0] < info.frames:
        raise CorruptMediaError(
            "", f"truncated: header promises {info.frames} samples, file holds {wave.shape[0]}"
        )
    return resample(_mono(wave), rate, sample_rate)


def decode_audio_stream(
    source, name: str, *, sample_rate: int = SAMPLE_RATE, stream_required: bool = True,
    start: float | None = None, end: float | None = None,
):  # fmt: skip
    """The first audio stream of any FFmpeg-readable container (bytes or a path), resampled by
    libswresample; with ``start``/``end`` only that span is decoded (after a seek), so the moments of
    an hour-long video do not each decode the whole track.

    Returns None when the container has no audio stream and ``stream_required`` is False.
    """
    import av

    from omniret.media.source import av_input

    try:
        with av.open(av_input(source)) as container:
            if not container.streams.audio:
                if stream_required:
                    what = "video without an audio track" if container.streams.video else "no audio stream"
                    raise WrongModalityError(name, f"expected audio but found {what}")
                return None
            stream = container.streams.audio[0]
            if start and stream.time_base:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks, first = [], None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else None
                if end is not None and t is not None and t > end:
                    break
                if first is None:
                    first = t if t is not None else 0.0
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except av.error.InvalidDataError as err:
        raise CorruptMediaError(name, f"cannot decode audio ({err})") from None
    except av.error.FFmpegError as err:
        raise CorruptMediaError(name, f"decoder error ({err})") from None
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if start is None and end is None:
        return wave
    lo = max(0, round(((start or 0.0) - (first or 0.0)) * sample_rate))  # decoding began at `first`
    hi = None if end is None else lo + max(0, round((end - max(start or 0.0, first or 0.0)) * sample_rate))
    return wave[lo:hi]


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality)."""
    if rate == target:
        return wave.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(wave, rate, target).astype(np.float32)


def _mono(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    return wave.mean(axis=1) if wave.ndim == 2 else wave.reshape(-1)


def _check(wave: np.ndarray, name: str, rate: int, max_seconds: float) -> np.ndarray:
    if wave.size == 0:
        raise EmptyMediaError(name, "no audio samples")
    if wave.size / rate > max_seconds:
        raise MediaTooLargeError(
            name, f"audio is {wave.size / rate:.0f} s, over the {max_seconds:.0f} s limit"
        )
    if not np.isfinite(wave).all():
        raise CorruptMediaError(name, "audio contains NaN or infinite samples")
    return wave


def _wav_shortfall(data: bytes) -> int:
    """Bytes missing from a RIFF/WAVE data chunk (libsndfile silently reads what is there)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"data":
            return 0 if size == 0xFFFFFFFF else max(0, size - (len(data) - pos - 8))
        pos += 8 + size + (size & 1)
    return 0
