"""Finding files and telling what they are by content, not by extension."""

from __future__ import annotations

from pathlib import Path

from omniret.media.source import sniff

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}


def walk(paths: list[str | Path], *, skip: Path | None = None) -> list[Path]:
    """Every regular file under ``paths`` (sorted, hidden entries and ``skip`` excluded)."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_file():
            out.add(p.resolve())
            continue
        for f in p.rglob("*"):
            rel = f.relative_to(p)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if skip is not None and f.resolve().is_relative_to(skip.resolve()):
                continue
            if f.is_file():
                out.add(f.resolve())
            elif f.is_symlink():  # dangling: reported as unreadable instead of silently ignored
                out.add(f.absolute())
    return sorted(out)


def detect(path: Path, head: bytes) -> str | None:
    """image | audio | video | text, or None for anything we do not index."""
    kind = sniff(head)
    if kind == "container":
        return _probe(path)
    if kind == "text":
        return "text" if path.suffix.lower() in TEXT_SUFFIXES or not path.suffix else None
    return kind


def _probe(path: Path) -> str | None:
    import av

    try:
        with av.open(str(path)) as c:
            video = [s for s in c.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
            if video:
                return "video"
            return "audio" if c.streams.audio else None
    except Exception:  # unreadable containers are reported by the decoder with a proper reason
        return "video"


def duration(path: Path, modality: str | None, size: int) -> float:
    """Seconds of media, read from container headers (no decoding), for progress and ETA.

    Images count as one second and text as one second per 2,000 characters: roughly what they cost.
    """
    if modality in ("audio", "video"):
        import av

        try:
            with av.open(str(path)) as c:
                if c.duration:
                    return c.duration / 1_000_000
        except Exception:  # a broken file is reported when it is decoded
            pass
        return 1.0
    return max(1.0, size / 2000) if modality == "text" else 1.0
