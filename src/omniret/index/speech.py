"""What is said in an audio window or video moment: Whisper ASR or sidecar subtitles, as timed cues.

Both sources become the same thing, a sorted list of ``Cue(start, end, text)`` over the asset's time line,
and ``align`` gives each segment the text of the cues inside its span. Keeping the timed cues (not one
transcript per window) means a window is transcribed once per asset, whatever the window grid: the
recording is decoded in bounded chunks (``transcribe_cues``), and windows, moments and the whole-asset row
are all answered by ``align`` from the same cues.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass
from pathlib import Path

from omniret.inputs.media import CorruptMediaError, EmptyMediaError, UnreadableMediaError, WrongModalityError
from omniret.inputs.media.audio import load_audio

SUBTITLE_SUFFIXES = (".srt", ".vtt")  # also the order of two sidecars with the same language
MIN_OVERLAP = 0.05  # s a cue must share with a span: a cue ending just as a window starts is not in it
WHOLE_CHARS = 4000  # the longest speech stored on one row (the whole-asset transcript)
_LANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})?", re.IGNORECASE)  # "fr", "eng", "en-GB", "es-419"
_TAG = re.compile(r"<[^<>]*>")  # markup pysubs2 leaves (e.g. WebVTT <ruby>, <lang en>)


@dataclass(frozen=True)
class Cue:
    """A piece of speech: seconds ``start``-``end`` on the asset's time line, and its words."""

    start: float
    end: float
    text: str


def find_subtitles(path: Path) -> list[tuple[Path, str | None]]:
    """Sidecar subtitles of a media file: ``name.srt|vtt`` and ``name.<lang>.srt|vtt``, with the language.

    This is how players find them (VLC, mpv, Plex), so a folder a user already has works as is. The
    language is the tag lower-cased (``en-GB`` -> ``"en-gb"``); other middles (``name.forced.srt``,
    ``name.part2.srt``) are not subtitles of this file. Untagged files come first, then by language,
    then .srt before .vtt: the first is the one to use. The directory is listed once per call.
    """
    path = Path(path)
    found = []
    for entry in path.parent.iterdir():
        name, suffix = entry.name, entry.suffix.lower()
        if suffix not in SUBTITLE_SUFFIXES or not name.startswith(path.stem + "."):
            continue
        middle = name[len(path.stem) + 1 : -len(suffix)]
        if middle and not _LANG.fullmatch(middle):
            continue
        if entry.is_file():  # a directory named x.srt is not a subtitle file
            found.append((entry, middle.lower() or None))
    found.sort(key=lambda f: (f[1] is not None, f[1] or "", SUBTITLE_SUFFIXES.index(f[0].suffix.lower()),
                              f[0].name))  # fmt: skip
    return found


def read_subtitles(path: Path) -> list[Cue]:
    """The cues of a subtitle file (SRT, WebVTT, or anything pysubs2 reads), as plain text, by start.

    Formatting (``<i>``, ``{\\i1}``, ASS override codes, WebVTT voice/class tags, entities) is removed
    and a cue's lines are joined with a space, so the text can be searched and shown as one line. Cues
    with no text, comments, drawings and cues ending before they start are dropped. An empty file has no
    cues; one pysubs2 cannot parse raises ``CorruptMediaError`` naming it.
    """
    import pysubs2

    try:
        text = _decode(Path(path).read_bytes())
    except OSError as err:
        raise UnreadableMediaError(str(path), f"cannot read subtitles ({err.strerror or err})") from None
    if not text.strip():
        return []
    try:
        subs = pysubs2.SSAFile.from_string(text)
    except (pysubs2.Pysubs2Error, ValueError, IndexError, KeyError) as err:
        raise CorruptMediaError(str(path), f"cannot parse subtitles ({err})") from None
    cues = []
    for event in subs:
        if event.is_comment or event.is_drawing or event.end < event.start:
            continue
        words = " ".join(_TAG.sub(" ", html.unescape(event.plaintext)).split())
        if words:
            cues.append(Cue(event.start / 1000, event.end / 1000, words))
    return sorted(cues, key=lambda c: (c.start, c.end))


def _decode(data: bytes) -> str:
    """Subtitle bytes -> text: UTF-16 or UTF-8 (a BOM is dropped), else latin-1, which decodes any bytes
    (old SRT files are often Windows-1252)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def align(cues: list[Cue], spans: list[tuple[float, float]]) -> list[str | None]:
    """For each span ``(t0, t1)``: the text of the cues in it, in time order, or None when there are none.

    A cue is in a span when they share more than ``MIN_OVERLAP`` s, so a cue that only grazes a window's
    edge (subtitle timing is approximate) is not repeated in the neighbour; a cue no longer than that is
    in the spans holding its midpoint. A cue straddling two windows is in both. Consecutive repeats of a
    text (a subtitle line split over cues, a Whisper echo) are kept once.
    """
    cues = sorted(cues, key=lambda c: (c.start, c.end))
    starts = [c.start for c in cues]
    longest = max((c.end - c.start for c in cues), default=0.0)
    out: list[str | None] = []
    for t0, t1 in spans:
        lo, hi = bisect.bisect_left(starts, t0 - longest), bisect.bisect_right(starts, t1)
        texts: list[str] = []
        for cue in cues[lo:hi]:
            if _inside(cue, t0, t1) and (not texts or texts[-1] != cue.text):
                texts.append(cue.text)
        out.append(" ".join(texts) if texts else None)
    return out


def _inside(cue: Cue, t0: float, t1: float) -> bool:
    if cue.end - cue.start <= MIN_OVERLAP:
        return t0 <= (cue.start + cue.end) / 2 <= t1
    return min(cue.end, t1) - max(cue.start, t0) > MIN_OVERLAP


def transcribe_cues(
    tower, path: Path, duration: float, *, chunk_seconds: float = 300.0, language: str | None = "en",
    no_speech_max: float = 0.6, min_avg_logprob: float = -1.0,
) -> list[Cue]:  # fmt: skip
    """Whisper's cues over the whole recording (audio file or a video's sound track), by start.

    ``tower`` is anything with ``speech_cues(wave, language=, no_speech_max=, min_avg_logprob=)`` (the
    packaged ``WhisperCT2Tower``): segments Whisper is unsure of are dropped there, and decoding is
    deterministic. The file is decoded ``chunk_seconds`` at a time (one seek each for long files), so a
    4-hour recording never sits in memory whole; a word cut by a chunk boundary may be lost, rarely with
    5-minute chunks. A file without an audio track, or silence, has no cues.
    """
    cues: list[Cue] = []
    start = 0.0
    while start < duration:
        end = min(start + chunk_seconds, duration)
        try:
            wave = load_audio(path, span=(start, end))
        except WrongModalityError:  # "video without an audio track" / "no audio stream": nothing is said
            return []
        except EmptyMediaError:  # the headers overstated the length: the recording ended before `start`
            break
        for t0, t1, text in tower.speech_cues(wave, language=language, no_speech_max=no_speech_max,
                                              min_avg_logprob=min_avg_logprob):  # fmt: skip
            cues.append(Cue(round(start + t0, 3), round(start + t1, 3), text))
        start = end
    return sorted(cues, key=lambda c: (c.start, c.end))


def speech_for(segments, cues: list[Cue], *, source: str, language: str | None) -> None:
    """Set ``speech``, ``speech_lang`` and ``speech_source`` of each timed segment (audio window, video
    moment, whole-asset row) that has cues in its span; other segments are left as they are.

    The whole row's span is the recording, so its speech is the full transcript, cut at a word to
    ``WHOLE_CHARS`` (the store keeps a row's text for display and keyword search, not a book).
    """
    timed = [s for s in segments if s.t0 is not None and s.t1 is not None]
    for segment, text in zip(timed, align(cues, [(s.t0, s.t1) for s in timed]), strict=True):
        if text is None:
            continue
        segment.speech, segment.speech_lang, segment.speech_source = _cap(text), language, source


def _cap(text: str, limit: int = WHOLE_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit + 1]  # a space just after the limit ends a whole word
    return (head.rsplit(" ", 1)[0] if " " in head else head[:limit]).rstrip()
