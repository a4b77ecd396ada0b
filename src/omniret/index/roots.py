"""The indexed roots are a security boundary: nothing outside them is read, stored or served.

A folder can hold symlinks anyone could have placed there (a shared drive, an unpacked archive, an
upload). Followed blindly, ``notes.txt -> /etc/passwd`` would copy the password file into the index
as a passage and hand it out in search snippets. So every path is resolved (``os.path.realpath``:
symlinks and ``..`` of every component) and must land inside a root; this is checked when the folder
is scanned and again right before each read (hash, decode, keyframe, metadata sidecar), so a file
swapped for a link after the scan is refused at read time. The opened file descriptor itself is
checked too (``/proc/self/fd``), which closes the gap between the check and the hash.

Out of scope, and said so in docs/SECURITY.md: hard links (a hard link *is* a file inside the root;
its content is indexed like any other file) and bind mounts (the kernel shows their files inside the
root). Decoders open a path by name once more after the last check: a swap in that instant is a
residual race, narrowed to one decode.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from omniret.errors import InputError
from omniret.index.paths import display
from omniret.inputs.media.errors import MediaError, UnreadableMediaError


class OutsideRootsError(MediaError):
    """An entry resolves outside every indexed root (and ``--allow-outside-roots`` was not given)."""


@dataclass(frozen=True)
class Boundary:
    """The resolved roots of one indexing job and what may cross them.

    ``follow_links``: symlinks to directories below a root are walked (always within the roots);
    ``allow_outside``: targets outside the roots are read too (needs ``follow_links``)."""

    roots: tuple[str, ...]
    follow_links: bool = False
    allow_outside: bool = False

    @classmethod
    def of(cls, paths: Iterable, *, follow_links: bool = False, allow_outside: bool = False) -> Boundary:
        if allow_outside and not follow_links:
            raise InputError("--allow-outside-roots only widens --follow-links: give both, or neither")
        roots = tuple(sorted({os.path.realpath(os.fspath(p)) for p in paths}))
        return cls(roots, follow_links, allow_outside)

    def contains(self, real: str) -> bool:
        """``real`` (already resolved) is a root or lies below one, by whole path components."""
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in self.roots)

    def permits(self, path) -> bool:
        return self.allow_outside or self.contains(os.path.realpath(os.fspath(path)))

    def check(self, path) -> None:
        """Re-resolve ``path`` now; ``OutsideRootsError`` names it and where it leads when outside."""
        real = os.path.realpath(os.fspath(path))
        if not self.allow_outside and not self.contains(real):
            raise OutsideRootsError(display(path), outside_reason(real))

    def check_fd(self, fd: int, path) -> None:
        """The file actually opened as ``fd`` lies inside the roots (Linux: ``/proc/self/fd``; elsewhere
        the path check stands alone)."""
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return
        if not self.allow_outside and not self.contains(real):
            raise OutsideRootsError(display(path), outside_reason(real))

    def record(self, previous: dict | None = None) -> dict:
        """What the index keeps in ``omniret.json``: every root it was ever given, and whether any job
        followed links or went outside them (sticky: such content may still be stored)."""
        previous = previous or {}
        return {
            "roots": sorted({*previous.get("roots", []), *self.roots}),
            "follow_links": bool(previous.get("follow_links")) or self.follow_links,
            "allow_outside_roots": bool(previous.get("allow_outside_roots")) or self.allow_outside,
        }


class ReadGuard:
    """The boundary of one job plus which file each path was when it was hashed (device, inode, size,
    mtime): the decoders open a path by name after the hash, so an entry swapped in between (for a link,
    or another file) is refused by ``unchanged`` instead of reaching the index."""

    def __init__(self, boundary: Boundary) -> None:
        self.boundary, self.identity = boundary, {}

    @staticmethod
    def stamp(st) -> tuple:
        """What identifies the file a path leads to: (device, inode, size, mtime)."""
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def opened(self, fd: int, path) -> None:
        """For ``file_digest``: the descriptor being hashed lies inside the roots; remember its file."""
        self.boundary.check_fd(fd, path)
        self.identity[path] = self.stamp(os.fstat(fd))

    def unchanged(self, path) -> None:
        """``path`` still leads inside the roots, to the very file that was hashed."""
        self.boundary.check(path)
        try:
            st = os.stat(path)
        except OSError as err:
            raise UnreadableMediaError(
                display(path), f"vanished while it was read ({err.strerror})"
            ) from None
        if tuple(self.identity.get(path, ())) != self.stamp(st):
            raise UnreadableMediaError(
                display(path), "was replaced while it was read: not stored (index again)"
            )


def outside_reason(real: str) -> str:
    return (
        f"points outside the indexed roots (-> {display(real)}): not read "
        "(--follow-links --allow-outside-roots would read it)"
    )
