"""What is said in a recording, attached to its rows: sidecar subtitles first, else Whisper's transcript.

Users search recordings for what was *said* ("quarterly budget"): the dense vector of a 10 s window
barely encodes words, so each audio window and video moment also stores its words (``speech``,
shown with hits and searched by keyword). Human subtitles beside a video (``clip.srt``,
``clip.en.vtt``) beat a tiny English ASR model, so they win when present; otherwise the model's own
Whisper tower transcribes the file once, in chunks, and the timed segments are aligned to the rows.

Whether an index transcribes is part of its recipe (sidecar ``speech``): rows made with and without
transcripts would be searched unevenly, so a later job keeps the index's setting unless told
otherwise, and an explicit different one is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from omniret.index.paths import display, printable
from omniret.index.speech import find_subtitles, read_subtitles, speech_for, transcribe_cues
from omniret.index.store import IndexMismatchError
from omniret.inputs.media import MediaError
from omniret.inputs.media.source import file_digest

SETTINGS = ("auto", "on", "off")


def recognizer(model):
    """The model's speech recogniser (an audio tower with ``speech_cues``: Whisper), or None."""
    towers = getattr(getattr(model, "model", None), "towers", None)
    if towers is None or "audio" not in towers:
        return None
    tower = towers["audio"]
    return tower if hasattr(tower, "speech_cues") else None


def describe(tower) -> str:
    """How transcripts are made, recorded with the index."""
    name = getattr(getattr(tower, "cfg", None), "kind", None) or type(tower).__name__
    return f"{name} (greedy, temperature 0, language en, no-speech <= 0.6, mean log-prob >= -1.0)"


def choose(stored: dict | None, wanted: str, model, *, transcriber=None) -> tuple[dict, object | None]:
    """(the speech recipe to record, the recogniser to use or None). ``wanted``: auto | on | off; auto
    keeps the index's setting, and a new index transcribes when the model can."""
    if wanted not in SETTINGS:
        raise ValueError(f"transcripts must be one of {', '.join(SETTINGS)}, got {wanted!r}")
    tower = transcriber if transcriber is not None else recognizer(model)
    was = None if not stored else ("off" if stored.get("transcripts") == "off" else "on")
    if was and wanted != "auto" and wanted != was:
        raise IndexMismatchError(f"this index was made with transcripts {was}; use another --db to index "
                                 f"with transcripts {wanted} (or leave --transcripts out)")  # fmt: skip
    if wanted == "on" and tower is None:
        raise ValueError("--transcripts on: the model has no speech recogniser (its audio tower is not "
                         "Whisper); use a model with one, or --transcripts off")  # fmt: skip
    on = (was or wanted) != "off" and tower is not None
    recipe = stored or {
        "transcripts": describe(tower) if on else "off",
        "subtitles": ".srt/.vtt beside the file",
    }
    return recipe, (tower if on else None)


def attach(path: Path, modality: str, segments: list, duration: float, tower, warnings: list) -> Said | None:
    """Fill ``speech`` of the audio/video segments of ``path``: its subtitles when it has readable ones,
    else ``tower``'s transcript (None: no transcript). Problems are warnings: the media rows stay.
    Returns what was said, for a whole row made later (``with_pooled_whole``: ``Said.fill``)."""
    if modality not in ("audio", "video"):
        return None
    said = None
    for sub, lang in find_subtitles(path):
        try:
            said = Said(read_subtitles(sub), "subtitles", lang)
            break
        except MediaError as err:
            warnings.append((display(path), printable(f"subtitles {display(sub)} ignored: {err.reason}")))
    if said is None and tower is not None:
        try:
            said = Said(transcribe_cues(tower, path, duration), "asr", "en")
        except MediaError as err:
            warnings.append((display(path), printable(f"no transcript: {err.reason}")))
    if said is not None:
        said.fill(segments)
    return said


@dataclass(frozen=True)
class Said:
    """The timed words of one recording and where they came from."""

    cues: list
    source: str  # "subtitles" | "asr"
    language: str | None

    def fill(self, segments: list) -> None:
        speech_for(segments, self.cues, source=self.source, language=self.language)


def with_subtitles(content_hash: str, path: Path) -> str:
    """The content hash of a recording together with its sidecar subtitles (unchanged when it has none)."""
    subs = find_subtitles(path)
    if not subs:
        return content_hash
    h = hashlib.sha256(content_hash.encode())
    for sub, _ in subs:
        try:
            h.update(sub.name.encode() + b"\0" + file_digest(sub)[0].encode())
        except (MediaError, OSError):  # unreadable: reported (and ignored) when the recording is indexed
            h.update(sub.name.encode() + b"\0?")
    return h.hexdigest()
