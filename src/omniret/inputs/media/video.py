"""Video: PyAV decoding with uniform or keyframe sampling, timestamps kept, audio track extracted."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from omniret.inputs.media.audio import decode_audio_stream
from omniret.inputs.media.errors import CorruptMediaError, EmptyMediaError, WrongModalityError
from omniret.inputs.media.source import describe, open_container, open_source, sniff


@dataclass
class VideoClip:
    frames: list  # RGB PIL images, in time order
    timestamps: list[float]  # seconds, one per frame
    duration: float  # seconds
    audio: np.ndarray | None = None  # 16 kHz mono track, None if the video has none
    meta: dict = field(default_factory=dict)


def load_video(
    src,
    *,
    max_frames: int = 8,
    sampling: str = "uniform",
    start: float | None = None,
    end: float | None = None,
    with_audio: bool = True,
    name: str | None = None,
) -> VideoClip:
    """Decode at most ``max_frames`` frames (uniform over [start, end] or keyframes) plus the audio."""
    if sampling not in ("uniform", "keyframe"):
        raise ValueError(f"sampling must be 'uniform' or 'keyframe', got {sampling!r}")
    source, head = open_source(src)  # a path stays on disk: spans are decoded after a seek
    name = name or describe(src)
    kind = sniff(head)
    if kind in ("image", "audio", "text"):
        raise WrongModalityError(name, f"expected a video but the content is {kind}")
    clip = _decode_frames(source, name, max_frames=max_frames, sampling=sampling, start=start, end=end)
    if with_audio:
        track = decode_audio_stream(source, name, stream_required=False, start=start, end=end)
        clip.audio = track if track is not None and track.size else None
    return clip


def _decode_frames(source, name, *, max_frames, sampling, start, end) -> VideoClip:
    import av

    try:
        with open_container(source) as container:
            if not container.streams.video:
                raise WrongModalityError(name, "expected a video but the file has no video stream")
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            if start is not None and duration > 0 and start >= duration:
                span = f"{start:g}-{end:g} s" if end is not None else f"from {start:g} s"
                raise EmptyMediaError(
                    name, f"span {span} starts after the end of the video ({duration:.1f} s)"
                )
            t0 = max(0.0, start or 0.0)
            t1 = min(duration, end) if end is not None and duration > 0 else (end or duration)
            if sampling == "keyframe":
                stream.codec_context.skip_frame = "NONKEY"
            if t0 > 0:
                container.seek(int(t0 / stream.time_base), stream=stream, backward=True)
            picked = _stream_pick(container.decode(stream), max_frames, t0, t1, uniform=sampling == "uniform")
    except av.error.InvalidDataError as err:
        raise CorruptMediaError(name, f"cannot decode video ({err})") from None
    except av.error.FFmpegError as err:
        raise CorruptMediaError(name, f"decoder error ({err})") from None
    if not picked:
        raise EmptyMediaError(name, "video has no decodable frames in the requested span")
    return VideoClip(frames=[img for _, img in picked], timestamps=[t for t, _ in picked], duration=duration)


def thumbnail(path, at: float, *, max_side: int = 160, quality: int = 80) -> bytes | None:
    """JPEG bytes of the first frame at or after ``at`` seconds, at most ``max_side`` px: the moment's
    keyframe, stored with its row so a result list can show it without decoding the video again."""
    import av

    try:
        with open_container(str(path)) as container:
            stream = container.streams.video[0]
            if at > 0 and stream.time_base:
                container.seek(int(at / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time + 1e-6 >= at:
                    img = frame.to_image()
                    img.thumbnail((max_side, max_side))
                    buf = io.BytesIO()
                    img.convert("RGB").save(buf, format="JPEG", quality=quality)
                    return buf.getvalue()
    except (av.error.FFmpegError, IndexError, OSError):
        return None  # the moment is indexed anyway; only its picture is missing
    return None


def _stream_pick(frames, k: int, t0: float, t1: float, *, uniform: bool) -> list[tuple[float, object]]:
    """Keep at most k frames while decoding: for uniform sampling the frame nearest to each of k
    evenly spaced times (memory O(k)); for keyframes every keyframe, then k evenly among them."""
    targets = t0 + (np.arange(k) + 0.5) * max(t1 - t0, 1e-6) / k
    best: dict[int, tuple[float, float, object]] = {}
    keys: list[tuple[float, object]] = []
    for frame in frames:
        t = float(frame.time) if frame.time is not None else 0.0
        if t < t0 - 1e-6:
            continue
        if t > t1 + 1e-6 and (best or keys):
            break
        if not uniform:
            keys.append((t, frame.to_image()))
            continue
        j = int(np.abs(targets - t).argmin())
        if j not in best or abs(t - targets[j]) < best[j][0]:
            best[j] = (abs(t - targets[j]), t, frame.to_image())
    if not uniform:
        idx = np.unique(np.linspace(0, len(keys) - 1, min(k, len(keys))).round().astype(int)) if keys else []
        return [keys[i] for i in idx]
    return [(t, img) for _, (_, t, img) in sorted(best.items())]


def video_duration(source) -> float | None:
    """Seconds of a video (path or bytes) from its headers, nothing decoded; None when it has no video
    stream or cannot be opened (the decoder then names the problem)."""

    try:
        with open_container(source) as container:
            if not container.streams.video:
                return None
            return _duration(container, container.streams.video[0]) or None
    except Exception:  # reported with a reason when the video is decoded
        return None


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return float(stream.frames / stream.average_rate) if stream.frames and stream.average_rate else 0.0
