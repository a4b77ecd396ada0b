"""Finding files and telling what they are by content, not by extension.

``scan`` classifies every file-system entry under the roots with ``lstat``/``stat`` only: nothing that
is not a regular file is ever opened (a FIFO, or a symlink to one, would block the open forever; a
device could be endless), and every entry that cannot be indexed comes back with a one-line reason
instead of aborting the job.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from omniret.index.documents import is_pdf
from omniret.index.paths import display, printable, terminal_safe
from omniret.index.roots import Boundary, OutsideRootsError, outside_reason
from omniret.inputs.media.source import container_streams, open_container, sniff

__all__ = [
    "MAX_FILE_BYTES",
    "Boundary",
    "OutsideRootsError",
    "Scan",
    "detect",
    "display",
    "duration",
    "printable",
    "scan",
    "terminal_safe",
    "walk",
]

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
MAX_FILE_BYTES = 2 * 1024**3  # larger files are skipped with that reason

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISDIR, "a directory"),
)


def kind(mode: int) -> str:
    """What a non-regular ``st_mode`` is, for a reason: 'a FIFO (named pipe)', 'a socket', ..."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


@dataclass
class Scan:
    """What ``scan`` found: indexable ``files`` (absolute, symlinks resolved, sorted), ``skipped`` entries
    as (displayed path, reason), and per root (as given) how many indexable files it holds (-1: the root
    does not exist)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    roots: dict[str, int] = field(default_factory=dict)
    boundary: Boundary = field(default_factory=lambda: Boundary(()))


def scan(paths: list[str | Path], *, skip: Path | None = None, boundary: Boundary | None = None) -> Scan:
    """Classify every entry under ``paths``: regular readable files are kept, directories walked,
    everything else is skipped with its reason. Hidden entries, ``*.json`` sidecars found in folders
    and ``skip`` (the index itself) are left out silently. Only ``lstat``/``stat``/``scandir`` are used:
    no entry is opened here.

    ``boundary`` (default: the resolved ``paths``, links not followed) decides symlinks: one whose
    target resolves outside the roots is skipped ("points outside the indexed roots"); a symlink to a
    directory below a root is walked only with ``boundary.follow_links``, each real folder once."""
    boundary = boundary or Boundary.of(paths)
    out = Scan(boundary=boundary)
    found: set[Path] = set()
    skip_real = Path(os.path.realpath(skip)) if skip is not None else None

    def excluded(p: Path) -> bool:
        return skip_real is not None and (p == skip_real or skip_real in p.parents)

    for root in map(Path, paths):
        what, real, reason = _classify(root, follow_dirs=True, boundary=boundary)
        if what == "missing":
            out.skipped.append((display(root), "not found (no such file or directory)"))
            out.roots[str(root)] = -1
            continue
        count = 0
        if what == "skip":
            out.skipped.append((display(root), reason))
        elif what == "dir":
            count = _walk_dir(real, out, found, excluded, boundary)
        elif not excluded(real):
            found.add(real)
            count = 1
        out.roots[str(root)] = count
    out.files = sorted(found)
    return out


def _walk_dir(top: Path, out: Scan, found: set[Path], excluded, boundary: Boundary) -> int:
    """Walk ``top`` (depth first, sorted); returns how many indexable files it holds."""
    count, stack, seen = 0, [top], set()
    while stack:
        d = stack.pop()
        if excluded(d) or d in seen:  # a followed link can lead back into a folder already walked
            continue
        seen.add(d)
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError:
            out.skipped.append((display(d), "permission denied: the directory cannot be listed"))
            continue
        except OSError as err:
            out.skipped.append((display(d), f"the directory cannot be listed ({_reason(err)})"))
            continue
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            what, real, reason = _classify(
                p, follow_dirs=boundary.follow_links, real_parent=True, boundary=boundary
            )
            if what == "skip":
                out.skipped.append((display(p), reason))
            elif what == "missing":
                out.skipped.append((display(p), "vanished while the folder was scanned"))
            elif what == "dir":
                subdirs.append(real)
            elif p.suffix.lower() != ".json" and not excluded(real):  # sidecars are metadata, not content
                found.add(real)
                count += 1
        stack.extend(reversed(subdirs))
    return count


def _classify(
    path: Path, *, follow_dirs: bool, boundary: Boundary, real_parent: bool = False
) -> tuple[str, Path | None, str | None]:
    """("file", real path, None) for a readable regular file, ("dir", path, None) for a directory to
    walk, ("missing", None, None) when nothing is there, else ("skip", None, reason).

    Symlinks are followed with ``stat`` (which never opens the target); a symlink to a directory is
    only followed for a root the user named (``follow_dirs``). ``real_parent``: ``path`` is absolute
    and its folder has no symlink in it, so an entry that is no symlink needs no ``realpath``."""
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return "missing", None, None
    except OSError as err:
        return "skip", None, _reason(err)
    link = stat.S_ISLNK(lst.st_mode)
    st = lst
    if link:
        target = _readlink(path)
        try:
            st = os.stat(path)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return "skip", None, f"symlink loop (-> {target}): never resolves to a file"
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                return "skip", None, f"dangling symlink (-> {target}): target not found"
            if err.errno == errno.EACCES:
                return "skip", None, f"permission denied: the symlink (-> {target}) cannot be followed"
            return "skip", None, f"the symlink (-> {target}) cannot be followed ({_reason(err)})"
    outside = link and not boundary.permits(path)  # resolved through every link and ".." on the way
    if stat.S_ISDIR(st.st_mode):
        if outside:
            return "skip", None, outside_reason(os.path.realpath(path))
        if link and not follow_dirs:
            reason = (
                f"symlink to a directory (-> {target}): not followed (index it as a root, or --follow-links)"
            )
            return "skip", None, reason
        return "dir", path if real_parent and not link else Path(os.path.realpath(path)), None
    if not stat.S_ISREG(st.st_mode):
        what = kind(st.st_mode)
        return "skip", None, (f"symlink to {what} (-> {target}): not a regular file, not opened" if link
                              else f"{what}: not a regular file, not opened")  # fmt: skip
    if outside:
        return "skip", None, outside_reason(os.path.realpath(path))
    if not os.access(path, os.R_OK):
        return "skip", None, "permission denied: the file is not readable"
    return "file", path if real_parent and not link else Path(os.path.realpath(path)), None


def _readlink(path: Path) -> str:
    try:
        return display(os.readlink(path))
    except OSError:
        return "(unreadable link)"


def _reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    return printable(err.strerror or str(err)).lower()


def walk(paths: list[str | Path], *, skip: Path | None = None) -> list[Path]:
    """Every indexable regular file under ``paths`` (sorted); ``scan`` also says what was skipped and why."""
    return scan(paths, skip=skip).files


def detect(path: Path, head: bytes) -> str | None:
    """image | audio | video | text | document (PDF, by content), or None for anything we do not index."""
    if is_pdf(head):
        return "document"
    kind = sniff(head)
    if kind == "container":
        return _probe(path)
    if kind == "text":
        return "text" if path.suffix.lower() in TEXT_SUFFIXES or not path.suffix else None
    return kind


def _probe(path: Path) -> str | None:
    try:
        video, audio = container_streams(str(path))
    except Exception:  # unreadable containers are reported by the decoder with a proper reason
        return "video"
    return "video" if video else "audio" if audio else None


def duration(path: Path, modality: str | None, size: int) -> float:
    """Seconds of media, read from container headers (no decoding), for progress and ETA.

    Images count as one second, text as one second per 2,000 characters and a PDF as one per 50 kB:
    roughly what they cost.
    """
    if modality in ("audio", "video"):
        try:
            with open_container(str(path)) as c:
                if c.duration:
                    return c.duration / 1_000_000
        except Exception:  # a broken file is reported when it is decoded
            pass
        return 1.0
    if modality == "document":
        return max(1.0, size / 50_000)  # a PDF page (an image and its passages) per ~50 kB
    return max(1.0, size / 2000) if modality == "text" else 1.0
