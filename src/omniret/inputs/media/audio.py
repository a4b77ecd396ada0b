"""Audio: wav/flac/ogg (soundfile) and mp3/m4a/anything FFmpeg reads (PyAV) -> 16 kHz mono float32.

A recording of any length is read window by window: ``iter_audio_windows`` seeks to each window's start
and decodes only to its end, so memory is bounded by the window, not the file. Files up to
``WHOLE_DECODE_SECONDS`` are still decoded whole and sliced, exactly as before (their samples, hence
their embeddings, do not change); a span of a longer file is decoded after a seek.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from omniret.inputs.media.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaTooLargeError,
    WrongModalityError,
)
from omniret.inputs.media.pcm import MonoResampler, align
from omniret.inputs.media.source import describe, open_container, open_source, read_bytes, sniff

SAMPLE_RATE = 16000
MAX_SECONDS = 4 * 3600.0
WHOLE_DECODE_SECONDS = 600.0  # at most this long: decoded whole then sliced (<= 38 MB of samples)
PRE_ROLL = 0.25  # s decoded before (and after) a window: decoder and resampler are warm at its edges


@dataclass(frozen=True, repr=False)
class AudioSpan:
    """Seconds [t0, t1] of an audio file (a path or its bytes), decoded on demand after a seek.

    Anything that takes audio takes one (``OmniInput(audio=AudioSpan(path, 120.0, 130.0))``): the index
    gives the encoder one per window of a long recording, so no window holds more than itself in memory.
    """

    source: str | bytes
    t0: float
    t1: float

    def __post_init__(self) -> None:
        if isinstance(self.source, os.PathLike):
            object.__setattr__(self, "source", os.fspath(self.source))
        if not isinstance(self.source, (str, bytes)):
            raise TypeError(f"AudioSpan.source must be a path or bytes, got {type(self.source).__name__}")
        if not (0 <= self.t0 < self.t1):  # also refuses NaN
            raise ValueError(f"AudioSpan needs 0 <= t0 < t1, got ({self.t0}, {self.t1})")

    def __repr__(self) -> str:
        return f"AudioSpan({describe(self.source)!r}, {self.t0:g}, {self.t1:g})"


def load_audio(
    src, *, sample_rate: int = SAMPLE_RATE, max_seconds: float = MAX_SECONDS, name: str | None = None,
    span: tuple[float, float] | None = None,
) -> np.ndarray:  # fmt: skip
    """Path, bytes, an ``AudioSpan``, a float array at ``sample_rate``, or an (array, rate) tuple -> mono
    float32 (n,); with ``span`` only [t0, t1] seconds of it (see ``load_audio_span``).

    A file whose headers already say it is longer than ``max_seconds`` is refused before it is read or
    decoded."""
    if isinstance(src, AudioSpan):
        if span is not None:
            raise ValueError("an AudioSpan already has its span")
        src, span = src.source, (src.t0, src.t1)
    if span is not None:
        return load_audio_span(src, span, sample_rate=sample_rate, max_seconds=max_seconds, name=name)
    if isinstance(src, tuple) and len(src) == 2 and isinstance(src[0], np.ndarray):
        return _check(resample(_mono(src[0]), int(src[1]), sample_rate), "<array>", sample_rate, max_seconds)
    if isinstance(src, np.ndarray):
        return _check(_mono(src), "<array>", sample_rate, max_seconds)
    name = name or describe(src)
    source, head = open_source(src)  # a path stays on disk until its length is known
    seconds = _header_seconds(source, head)
    if seconds is not None and seconds > max_seconds:
        raise MediaTooLargeError(
            name, f"audio is {seconds:.0f} s, over the {max_seconds:.0f} s limit (use spans of at most "
            f"{max_seconds:.0f} s, or index the file: the index cuts it into windows)",
        )  # fmt: skip
    data = source if isinstance(source, bytes) else read_bytes(src)
    return _check(decode_audio(data, name, sample_rate=sample_rate), name, sample_rate, max_seconds)


def load_audio_span(
    src, span: tuple[float, float], *, sample_rate: int = SAMPLE_RATE, max_seconds: float = MAX_SECONDS,
    name: str | None = None,
) -> np.ndarray:  # fmt: skip
    """Seconds [t0, t1] of a path, bytes or array as mono float32 at ``sample_rate``.

    A span longer than ``max_seconds`` is refused before anything is decoded, and one starting at or after
    the end of the recording is refused by name. A file of at most ``WHOLE_DECODE_SECONDS`` is decoded
    whole and sliced (the samples it always gave); a longer one is decoded from a seek to ``t0`` up to
    ``t1`` only (``iter_audio_windows``). A span running past the end keeps what there is.
    """
    t0, t1 = float(span[0]), float(span[1])
    name = name or (describe(src) if not isinstance(src, (tuple, np.ndarray)) else "<array>")
    if not (0 <= t0 < t1):
        raise EmptyMediaError(name, f"span {t0:g}-{t1:g} s is empty (it needs 0 <= t0 < t1)")
    if not (t1 - t0 <= max_seconds):  # also catches an infinite span
        raise MediaTooLargeError(
            name, f"span {t0:g}-{t1:g} s is {t1 - t0:.0f} s long, over the {max_seconds:.0f} s limit"
        )
    if isinstance(src, (tuple, np.ndarray)):
        wave = load_audio(src, sample_rate=sample_rate, max_seconds=float("inf"))
        return _check(cut(wave, (t0, t1), name, sample_rate), name, sample_rate, max_seconds)
    source, head = open_source(src)
    seconds = _header_seconds(source, head)
    if seconds is not None and t0 >= seconds:
        raise EmptyMediaError(
            name, f"span {t0:g}-{t1:g} s starts after the end of the recording ({seconds:.1f} s)"
        )
    if seconds is None or seconds <= WHOLE_DECODE_SECONDS:
        data = source if isinstance(source, bytes) else read_bytes(src)
        wave = _check(decode_audio(data, name, sample_rate=sample_rate), name, sample_rate, MAX_SECONDS)
        return _check(cut(wave, (t0, t1), name, sample_rate), name, sample_rate, max_seconds)
    windows = iter_audio_windows(source, [(t0, min(t1, seconds))], name=name, sample_rate=sample_rate)
    try:
        _, _, wave = next(windows)
    finally:
        windows.close()
    if wave.size == 0:
        raise EmptyMediaError(name, f"span {t0:g}-{t1:g} s holds no audio (the recording is {seconds:.1f} s)")
    return _check(wave, name, sample_rate, max_seconds)


def cut(wave: np.ndarray, span, name: str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave[int(t0 * rate):int(t1 * rate)]``, refused when nothing of it is inside the clip."""
    if span is None:
        return wave
    lo, hi = int(span[0] * rate), int(span[1] * rate)
    if wave[lo:hi].size == 0:
        raise EmptyMediaError(name, f"span {tuple(span)} is outside the {wave.size / rate:.1f} s clip")
    return wave[lo:hi]


def audio_duration(source, *, exact: bool = False) -> float | None:
    """Seconds of the first audio stream of a path or bytes from its headers (nothing decoded), None
    when unknown. ``exact`` checks the end by decoding the last ~30 s after a seek (compressed files
    without an index only estimate their length), or the whole stream when that seek finds nothing."""

    try:
        with open_container(source) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            header = _stream_seconds(container, stream)
            if not exact:
                return header
            end = _last_time(container, stream, max(0.0, (header or 0.0) - 30.0))
            if end is None and header:
                end = _last_time(container, stream, 0.0)
            return end if end is not None else header
    except Exception:  # unreadable containers are reported by the decoder with a reason
        return None


def iter_audio_windows(
    source, spans, *, name: str, sample_rate: int = SAMPLE_RATE, stats: dict | None = None
):  # fmt: skip
    """Yield ``(t0, t1, wave)`` for each span of a path or bytes, each decoded after a seek to its start.

    One container stays open; for every window the demuxer seeks to ``t0 - PRE_ROLL`` on the audio
    stream, frames are decoded and resampled (libswresample, mono float32 at ``sample_rate``) until
    ``t1 + PRE_ROLL``, and the window is cut at samples ``int(t0 * rate):int(t1 * rate)`` of the file's
    time line (the convention of ``cut``). The first decoded frame is trimmed onto the resampler's grid,
    so the samples equal those of ``decode_audio_stream`` over the whole file, sliced (WAV, FLAC, MP3 at
    8-48 kHz, tested); AAC's noise substitution depends on decoder state, so an AAC window can differ a
    little in its first half second. Memory is one window plus its pre-roll, whatever the file's length.
    ``stats``, when given, counts the decoded frames (``"frames"``) and seconds (``"seconds"``).
    """
    import av

    try:
        with open_container(source) as container:
            if not container.streams.audio:
                what = "video without an audio track" if container.streams.video else "no audio stream"
                raise WrongModalityError(name, f"expected audio but found {what}")
            stream = container.streams.audio[0]
            for i, (t0, t1) in enumerate(spans):
                wave = _decode_window(container, stream, float(t0), float(t1), sample_rate, stats, seek=i > 0)
                yield t0, t1, wave
    except av.error.InvalidDataError as err:
        raise CorruptMediaError(name, f"cannot decode audio ({err})") from None
    except av.error.FFmpegError as err:
        raise CorruptMediaError(name, f"decoder error ({err})") from None


def _decode_window(container, stream, t0: float, t1: float, rate: int, stats: dict | None, *,
                   seek: bool) -> np.ndarray:  # fmt: skip
    """One window from a seek (times on the file's time line: 0 = the stream's first sample). A fresh
    container is not sought to its very start: decoders such as MP3 drop their priming samples only
    when the stream is read from its beginning."""

    origin = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    start = max(0.0, t0 - PRE_ROLL)
    if seek or start > 0:
        if stream.time_base:
            container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True)
        else:
            container.seek(int((start + origin) * 1_000_000), backward=True)
    resampler = MonoResampler(rate=rate)
    chunks, first, clock = [], None, start
    for frame in container.decode(stream):
        t = float(frame.time) - origin if frame.time is not None else clock
        length = frame.samples / (frame.sample_rate or rate)
        clock = t + length
        if stats is not None:
            stats["frames"] = stats.get("frames", 0) + 1
            stats["seconds"] = stats.get("seconds", 0.0) + length
        if t > t1 + PRE_ROLL:
            break
        if clock < start:  # the seek landed early (no index): skip, memory stays one window
            continue
        if first is None:
            frame, t = align(frame, t, rate)
            if frame is None:
                continue
            first = t
        chunks += resampler.push(frame)
    if first is None:
        return np.zeros(0, np.float32)
    chunks += resampler.flush()
    wave = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    base = round(first * rate)  # sample index (on the file's time line) of wave[0]
    return wave[max(0, int(t0 * rate) - base) : max(0, int(t1 * rate) - base)]


def _stream_seconds(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else None


def _last_time(container, stream, at: float) -> float | None:
    """End (s, on the file's time line) of the last frame decoded from a seek to ``at`` to the end of the
    stream, None if none."""
    origin = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    if stream.time_base:
        container.seek(int((at + origin) / stream.time_base), stream=stream, backward=True)
    else:
        container.seek(int((at + origin) * 1_000_000), backward=True)
    end = None
    for frame in container.decode(stream):
        if frame.time is not None:
            end = float(frame.time) - origin + frame.samples / (frame.sample_rate or 1)
        elif end is not None:
            end += frame.samples / (frame.sample_rate or 1)
    return end


def _header_seconds(source, head: bytes) -> float | None:
    """The length the headers declare, or None when the decoder should name the problem itself (not
    audio, a truncated WAV) or the headers do not say."""
    if sniff(head) in ("image", "text"):
        return None
    size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
    if _wav_shortfall(head, size) > 0:
        return None
    return audio_duration(source)


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

    try:
        with open_container(source) as container:
            if not container.streams.audio:
                if stream_required:
                    what = "video without an audio track" if container.streams.video else "no audio stream"
                    raise WrongModalityError(name, f"expected audio but found {what}")
                return None
            stream = container.streams.audio[0]
            if start and stream.time_base:
                container.seek(int(start / stream.time_base), stream=stream, backward=True)
            resampler = MonoResampler(rate=sample_rate)
            chunks, first = [], None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else None
                if end is not None and t is not None and t > end:
                    break
                if first is None:
                    first = t if t is not None else 0.0
                chunks += resampler.push(frame)
            chunks += resampler.flush()
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


def _wav_shortfall(data: bytes, total: int | None = None) -> int:
    """Bytes missing from a RIFF/WAVE data chunk (libsndfile silently reads what is there); ``data`` may
    be just the head of a file of ``total`` bytes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 0
    total = len(data) if total is None else total
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"data":
            return 0 if size == 0xFFFFFFFF else max(0, size - (total - pos - 8))
        pos += 8 + size + (size & 1)
    return 0
