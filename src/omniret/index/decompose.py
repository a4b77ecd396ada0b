"""Assets -> searchable segments: whole images, audio windows, video moments, text passages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omniret.inputs import OmniInput

AUDIO_WINDOW, AUDIO_HOP = 10.0, 8.0  # 10 s windows with 2 s overlap
VIDEO_WINDOW = 10.0
PASSAGE_CHARS = 800


@dataclass
class Segment:
    segment_id: str
    t0: float | None
    t1: float | None
    input: OmniInput
    text: str | None = None  # passage text / snippet stored for display


def windows(duration: float, size: float, hop: float) -> list[tuple[float, float]]:
    """Overlapping windows covering [0, duration]; a short asset is one window."""
    if duration <= size:
        return [(0.0, duration)]
    starts = np.arange(0.0, max(duration - size, 0.0) + 1e-9, hop).tolist()
    if starts[-1] + size < duration:
        starts.append(duration - size)
    return [(round(s, 3), round(min(s + size, duration), 3)) for s in starts]


def image_segments(path: Path) -> tuple[list[Segment], float]:
    return [Segment("image", None, None, OmniInput(image=path))], 1.0


def audio_segments(path: Path, *, max_seconds: float) -> tuple[list[Segment], float]:
    """Decoded once; the whole asset plus 10 s windows (when longer), as in-memory slices."""
    from omniret.media import load_audio

    wave = load_audio(path, max_seconds=max_seconds)
    duration = len(wave) / 16000
    spans = windows(duration, AUDIO_WINDOW, AUDIO_HOP)
    segs = [Segment("whole", 0.0, duration, OmniInput(audio=(wave, 16000)))] if len(spans) > 1 else []
    for t0, t1 in spans:
        piece = wave[int(t0 * 16000) : int(t1 * 16000)]
        segs.append(Segment(f"{t0:.2f}-{t1:.2f}", t0, t1, OmniInput(audio=(piece, 16000))))
    return segs, duration


def video_segments(path: Path) -> tuple[list[Segment], float]:
    """Fixed 10 s moments (each with its frames and audio track) plus the whole video when longer."""
    import av

    from omniret.media import CorruptMediaError

    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            duration = (
                float(stream.duration * stream.time_base) if stream.duration else (c.duration or 0) / 1e6
            )
    except (av.error.FFmpegError, IndexError) as err:
        raise CorruptMediaError(str(path), f"cannot open video ({err})") from None
    spans = windows(max(duration, 0.1), VIDEO_WINDOW, VIDEO_WINDOW)
    segs = [Segment("whole", 0.0, duration, OmniInput(video=path))] if len(spans) > 1 else []
    for t0, t1 in spans:
        segs.append(
            Segment(f"{t0:.2f}-{t1:.2f}", t0, t1, OmniInput(video=path, span=(t0, max(t1, t0 + 0.05))))
        )
    return segs, duration


def text_segments(path: Path) -> tuple[list[Segment], float]:
    """Paragraph-aligned passages of at most ~800 characters."""
    from omniret.media import EmptyMediaError

    text = path.read_text(encoding="utf-8", errors="replace")
    passages, current = [], ""
    for para in [p.strip() for p in text.split("\n\n") if p.strip()]:
        if current and len(current) + len(para) > PASSAGE_CHARS:
            passages.append(current)
            current = ""
        current = f"{current}\n\n{para}".strip()
    if current:
        passages.append(current)
    if not passages:
        raise EmptyMediaError(str(path), "text file has no text")
    segs = [Segment(f"p{i}", None, None, OmniInput(text=p[:4000]), text=p) for i, p in enumerate(passages)]
    return segs, max(1.0, len(text) / 2000)


def decompose(
    path: Path, modality: str, *, max_audio_seconds: float = 4 * 3600
) -> tuple[list[Segment], float]:
    """(segments, duration used for progress/ETA)."""
    if modality == "image":
        return image_segments(path)
    if modality == "audio":
        return audio_segments(path, max_seconds=max_audio_seconds)
    if modality == "video":
        return video_segments(path)
    return text_segments(path)
