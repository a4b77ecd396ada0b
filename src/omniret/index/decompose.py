"""Assets -> searchable segments: whole images, audio windows, video moments, text passages.

A recording longer than one encode's limit (``media.max_audio_seconds``, 600 s by default; the index
passes its model's) is never decoded or encoded whole. Its windows (audio: 10 s, hop 8 s; video: its
moments) are read lazily, one seek each, while they are encoded, so memory is bounded by a window; and
its whole-asset row is *pooled* from them (``with_pooled_whole``): the L2-normalised mean of the window
vectors, each weighted by its duration ``t1 - t0``. That row keeps ``segment_id = "whole"`` and
``t0 = 0, t1 = duration``; a whole row with ``t1`` over the limit recorded in the index's model recipe
(``media.max_audio_seconds``) is pooled, from exactly the window rows stored beside it (the window grid
is the index's recorded ``segmentation``), so anyone can recompute it. Shorter files are cut as before,
their whole row encoded in one piece.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omniret.inputs import OmniInput
from omniret.inputs.media import CorruptMediaError, EmptyMediaError, MediaTooLargeError, load_audio
from omniret.inputs.media.audio import SAMPLE_RATE, AudioSpan, audio_duration
from omniret.inputs.media.source import open_container, read_text

AUDIO_WINDOW, AUDIO_HOP = 10.0, 8.0  # 10 s windows with 2 s overlap
VIDEO_WINDOW = 10.0
PASSAGE_CHARS = 800
VIDEO_MODES = ("fixed", "shots")
ENCODE_SECONDS = 600.0  # MediaConfig.max_audio_seconds: the longest recording one encode takes


@dataclass
class Segment:
    segment_id: str
    t0: float | None
    t1: float | None
    input: OmniInput | None  # None only for a whole row pooled from its windows (``with_pooled_whole``)
    text: str | None = None  # passage text / snippet stored for display
    keyframe_at: float | None = None  # video: the time of the frame shown for this moment
    pooled: bool = False  # a window of a recording too long to encode whole: the whole row is pooled
    thumbnail: bytes | None = None  # JPEG shown with the hit (a document page), stored in ``keyframe``
    page: int | None = None  # a document's page (1-based) this row shows or was extracted from
    speech: str | None = None  # what is said in an audio window / video moment (transcript or subtitles)
    speech_lang: str | None = None  # its language (ISO 639-1, e.g. "en"), when known
    speech_source: str | None = None  # "asr" (the model's Whisper) or "subtitles" (a sidecar .srt/.vtt)


def encode_limit(model) -> float:
    """The longest audio (or video sound track) one encode of ``model`` takes: its
    ``media.max_audio_seconds`` (every model has a feature extractor with its media settings), else 600 s."""
    media = getattr(getattr(model, "features", None), "media", None)
    return float(getattr(media, "max_audio_seconds", ENCODE_SECONDS))


def with_pooled_whole(segments: list[Segment], vectors) -> tuple[list[Segment], np.ndarray]:
    """``segments`` and their ``vectors`` with the whole-asset row of a long recording prepended.

    The pooled vector is ``normalize(sum_i w_i * v_i)`` over the windows ``i`` marked ``pooled``, with
    ``w_i = t1_i - t0_i`` (seconds; overlapping audio windows are each counted in full) and ``v_i`` their
    unit vectors, normalised to unit L2 length, in float64 then cast to float32. Without pooled windows
    nothing changes."""
    vectors = np.asarray(vectors)
    idx = [i for i, s in enumerate(segments) if s.pooled]
    if not idx:
        return segments, vectors
    weights = np.array([segments[i].t1 - segments[i].t0 for i in idx], dtype=np.float64)
    mean = np.tensordot(weights, vectors[idx].astype(np.float64), axes=1) / weights.sum()
    norm = np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)  # per vector of a multi-vector
    vector = (mean / norm).astype(vectors.dtype)
    duration = max(segments[i].t1 for i in idx)
    video = segments[idx[0]].keyframe_at is not None
    whole = Segment("whole", 0.0, duration, None, keyframe_at=duration / 2 if video else None)
    return [whole, *segments], np.concatenate([vector[None], vectors])


def windows(duration: float, size: float, hop: float) -> list[tuple[float, float]]:
    """Overlapping windows covering [0, duration]; a short asset is one window."""
    if duration <= size:
        return [(0.0, duration)]
    starts = np.arange(0.0, max(duration - size, 0.0) + 1e-9, hop).tolist()
    if duration - (starts[-1] + size) > 1e-3:  # a tail under a millisecond would repeat the last window
        starts.append(duration - size)
    return [(round(s, 3), round(min(s + size, duration), 3)) for s in starts]


def image_segments(path: Path) -> tuple[list[Segment], float]:
    return [Segment("image", None, None, OmniInput(image=path))], 1.0


def audio_segments(
    path: Path, *, max_seconds: float, encode_seconds: float = ENCODE_SECONDS
) -> tuple[list[Segment], float]:
    """The whole asset plus 10 s windows (when longer).

    Up to ``encode_seconds`` (read from the headers): decoded once, the windows are in-memory slices and
    the whole recording is one input, as always. Longer: nothing is decoded here; each window is an
    ``AudioSpan`` decoded after a seek when it is encoded, and the whole row is pooled from the windows
    (module docstring). Over ``max_seconds`` the file is refused before decoding.
    """

    header = audio_duration(path)
    if header is None or header <= encode_seconds:
        wave = load_audio(path, max_seconds=max_seconds)
        duration = len(wave) / SAMPLE_RATE
        spans = windows(duration, AUDIO_WINDOW, AUDIO_HOP)
        pooled = duration > encode_seconds  # the headers understated the length
        whole = Segment("whole", 0.0, duration, OmniInput(audio=(wave, SAMPLE_RATE)))
        segs = [whole] if len(spans) > 1 and not pooled else []
        for t0, t1 in spans:
            piece = wave[int(t0 * SAMPLE_RATE) : int(t1 * SAMPLE_RATE)]
            segs.append(
                Segment(f"{t0:.2f}-{t1:.2f}", t0, t1, OmniInput(audio=(piece, SAMPLE_RATE)), pooled=pooled)
            )
        return segs, duration
    duration = audio_duration(path, exact=True) or header  # compressed files may only estimate it
    if duration > max_seconds:
        raise MediaTooLargeError(str(path), f"audio is {duration:.0f} s, over the {max_seconds:.0f} s limit")
    spans = windows(duration, AUDIO_WINDOW, AUDIO_HOP)
    source = str(path)
    return [Segment(f"{t0:.2f}-{t1:.2f}", t0, t1, OmniInput(audio=AudioSpan(source, t0, t1)), pooled=True)
            for t0, t1 in spans], duration  # fmt: skip


def video_segments(
    path: Path, *, mode: str = "fixed", encode_seconds: float = ENCODE_SECONDS
) -> tuple[list[Segment], float]:
    """10 s moments (each with its frames and audio track) plus the whole video when longer.

    ``mode="fixed"`` cuts every 10 s; ``mode="shots"`` cuts at shot boundaries (``shot_spans``) and
    splits shots longer than 10 s, so a moment never straddles a cut. A video longer than
    ``encode_seconds`` has its whole row pooled from its moments (module docstring): its sound track is
    never decoded whole.
    """
    import av

    if mode not in VIDEO_MODES:
        raise ValueError(f"video segmentation must be one of {VIDEO_MODES}, got {mode!r}")
    try:
        with open_container(str(path)) as c:
            stream = c.streams.video[0]
            duration = (
                float(stream.duration * stream.time_base) if stream.duration else (c.duration or 0) / 1e6
            )
            spans = shot_spans(c, duration) if mode == "shots" else None
    except (av.error.FFmpegError, IndexError) as err:
        raise CorruptMediaError(str(path), f"cannot open video ({err})") from None
    spans = spans or windows(max(duration, 0.1), VIDEO_WINDOW, VIDEO_WINDOW)
    pooled = duration > encode_seconds
    segs = (
        [Segment("whole", 0.0, duration, OmniInput(video=path), keyframe_at=duration / 2)]
        if len(spans) > 1 and not pooled
        else []
    )
    for t0, t1 in spans:
        span = (t0, max(t1, t0 + 0.05))
        segs.append(Segment(f"{t0:.2f}-{t1:.2f}", t0, t1, OmniInput(video=path, span=span),
                            keyframe_at=(t0 + t1) / 2, pooled=pooled))  # fmt: skip
    return segs, duration


def shot_spans(container, duration: float, *, sample_fps: float = 4.0, threshold: float = 0.5,
               min_len: float = 2.0) -> list[tuple[float, float]]:  # fmt: skip
    """Shots from frame differences, each split evenly into moments of at most 10 s.

    Frames sampled at 4 fps are reduced to 64x36 thumbnails and compared by colour histogram
    (8 bins per channel, half the L1 distance, 0..1): a cut is where it exceeds 0.5. Histograms,
    unlike pixel differences, barely move when the camera pans over one scene. Cuts closer than 2 s
    form a burst: a flash (the picture after the burst matches the one before) is no cut at all,
    anything else cuts once, at the burst's start.
    """
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    candidates, prev, next_t = [], None, 0.0  # (time, histogram before, histogram after)
    for frame in container.decode(stream):
        t = float(frame.time) if frame.time is not None else next_t
        if t + 1e-6 < next_t:
            continue
        next_t = t + 1.0 / sample_fps
        hist = _colour_histogram(frame.reformat(width=64, height=36, format="rgb24").to_ndarray())
        if prev is not None and _distance(hist, prev) > threshold:
            candidates.append((round(t, 3), prev, hist))
        prev = hist
    cuts, i = [0.0], 0
    while i < len(candidates):
        j = i
        while j + 1 < len(candidates) and candidates[j + 1][0] - candidates[j][0] < min_len:
            j += 1
        flash = j > i and _distance(candidates[i][1], candidates[j][2]) <= threshold
        if not flash and candidates[i][0] - cuts[-1] >= min_len:
            cuts.append(candidates[i][0])
        i = j + 1
    end = max(duration, cuts[-1] + 0.1)
    if end - cuts[-1] < min_len and len(cuts) > 1:
        cuts.pop()  # a short tail joins the last shot
    spans = []
    for t0, t1 in itertools.pairwise([*cuts, end]):
        parts = max(1, math.ceil((t1 - t0) / VIDEO_WINDOW - 1e-9))
        edges = np.linspace(t0, t1, parts + 1)
        spans += [(round(float(a), 3), round(float(b), 3)) for a, b in itertools.pairwise(edges)]
    return spans


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def _colour_histogram(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> concatenated 8-bin histograms per channel, each summing to 1/3."""
    bins = (rgb // 32).reshape(-1, 3)  # 0..7
    hist = np.stack([np.bincount(bins[:, c], minlength=8) for c in range(3)]).astype(np.float64)
    return (hist / (3 * bins.shape[0])).reshape(-1)


def text_segments(path: Path) -> tuple[list[Segment], float]:
    """Paragraph-aligned passages of at most ~800 characters."""

    text = read_text(path)  # UTF-8 (a few bad bytes become U+FFFD) or UTF-16/32 by byte-order mark
    parts = passages(text)
    if not parts:
        raise EmptyMediaError(str(path), "text file has no text")
    segs = [Segment(f"p{i}", None, None, OmniInput(text=p[:4000]), text=p) for i, p in enumerate(parts)]
    return segs, max(1.0, len(text) / 2000)


def passages(text: str) -> list[str]:
    """Paragraphs (split at blank lines, stripped) joined by a blank line while the passage stays within
    ``PASSAGE_CHARS`` (the separator not counted); a longer paragraph is a passage of its own."""
    parts, current = [], ""
    for para in [p.strip() for p in text.split("\n\n") if p.strip()]:
        if current and len(current) + len(para) > PASSAGE_CHARS:
            parts.append(current)
            current = ""
        current = f"{current}\n\n{para}".strip()
    if current:
        parts.append(current)
    return parts


def segmentation(video: str = "fixed") -> dict:
    """The decomposition recipe, stored with an index so every file of it is cut the same way."""
    if video not in VIDEO_MODES:
        raise ValueError(f"video segmentation must be one of {VIDEO_MODES}, got {video!r}")
    return {"video": video, "video_window": VIDEO_WINDOW, "audio_window": AUDIO_WINDOW, "audio_hop": AUDIO_HOP,
            "passage_chars": PASSAGE_CHARS}  # fmt: skip


def decompose(
    path: Path, modality: str, *, max_audio_seconds: float = 4 * 3600, video_mode: str = "fixed",
    encode_seconds: float = ENCODE_SECONDS,
) -> tuple[list[Segment], float]:  # fmt: skip
    """(segments, duration used for progress/ETA). ``encode_seconds``: the model's limit for one encode
    (``encode_limit``); longer audio and video get a pooled whole row (``with_pooled_whole``)."""
    if modality == "image":
        return image_segments(path)
    if modality == "audio":
        return audio_segments(path, max_seconds=max_audio_seconds, encode_seconds=encode_seconds)
    if modality == "video":
        return video_segments(path, mode=video_mode, encode_seconds=encode_seconds)
    return text_segments(path)
