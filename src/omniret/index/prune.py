"""The files under the roots (a folder scan or a bucket listing), and what ``--prune`` deletes of the rest.

A mistyped, moved or unmounted root (or an empty bucket prefix) must never look like "every file under
it was deleted", and a file that cannot be checked (no permission on a folder on the way) counts as
present. Local roots are decided by ``stat``; object-store roots by their listing (``objects.py``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from omniret.errors import InputError
from omniret.index.files import MAX_FILE_BYTES, Scan, display, scan
from omniret.index.objects import Source, split_roots
from omniret.index.objects import prune_candidates as object_candidates
from omniret.index.paths import asset_id
from omniret.index.roots import Boundary
from omniret.index.store import Store


def find(paths: list, *, skip: Path | None = None, boundary: Boundary | None = None,
         source: Source | None = None, max_bytes: int = MAX_FILE_BYTES) -> Scan:  # fmt: skip
    """The files under ``paths``: a local scan (``files.scan``), or an object-store listing when the
    roots are URIs (``source`` holds the storage options)."""
    if split_roots(paths):
        return (source or Source()).listing([str(p) for p in paths], max_bytes=max_bytes)
    return scan(paths, skip=skip, boundary=boundary)


def candidates(known: dict, found: Scan, roots: list) -> list[str]:
    """Asset ids ``--prune`` deletes, for local roots or object-store roots alike."""
    if split_roots(roots):
        return object_candidates(known, found.files, [str(r) for r in roots])
    return prune_candidates(known, found.files, roots, found.boundary)


@dataclass
class Known:
    """What the table holds about one file: its shown ``uri``, content hash, exact path bytes, rows."""

    uri: str
    content_hash: str
    path: bytes
    rows: int


@dataclass
class PrunePreview:
    """What ``--prune`` would delete: (uri, rows) per file, and the entries the scan skipped."""

    files: list[tuple[str, int]]
    skipped: list[tuple[str, str]]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.files)


def check_prune_roots(found: Scan) -> None:
    """Refuse a prune whose roots do not exist or hold no file that can be indexed: a mistyped, moved or
    unmounted root would otherwise look like "every file under it was deleted". Called before anything
    is written, so a refusal leaves the index exactly as it was."""
    for root, count in found.roots.items():
        if count < 0:
            raise InputError(f"refusing to prune: {display(root)} does not exist (mistyped, moved or not "
                             "mounted?); nothing was deleted")  # fmt: skip
        if count == 0:
            raise InputError(f"refusing to prune: {display(root)} holds no file that can be indexed, so every "
                             "row under it would be deleted; nothing was deleted (remove rows with "
                             "`omniret delete` instead)")  # fmt: skip


def prune_candidates(known: dict[str, Known], files: list[Path], roots, boundary: Boundary) -> list[str]:
    """Asset ids of the rows ``--prune`` deletes: files under one of ``roots`` (by exact path bytes,
    whole path components only) that were not found by this scan and are verifiably gone, or whose path
    now leads outside the roots (a file swapped for such a link is no indexable entry any more)."""
    present = {asset_id(f) for f in files}
    tops = [os.fsencode(os.path.realpath(r)).rstrip(b"/") + b"/" for r in roots]
    return [aid for aid, k in known.items()
            if aid not in present and any((k.path + b"/").startswith(t) for t in tops)
            and (_gone(k.path) or not boundary.permits(os.fsdecode(k.path)))]  # fmt: skip


def _gone(path: bytes) -> bool:
    """The path no longer leads to a regular file. When that cannot be told (no permission on a folder on
    the way, an I/O error), the file counts as present: prune never deletes rows of files that exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError as err:
        return err.errno == errno.ELOOP
    return not stat.S_ISREG(st.st_mode)


def prune_preview(store: Store, paths: list, boundary: Boundary | None = None, *,
                  source: Source | None = None) -> PrunePreview:  # fmt: skip
    """What ``add(paths, prune=True)`` would delete, without deleting, indexing or creating anything (no
    model is needed). Refuses the same roots as the prune itself."""
    found = find(paths, skip=store.local_path, boundary=boundary, source=source)
    check_prune_roots(found)
    table = store.table()  # None: no index (or no table) yet, so nothing to delete
    known = known_files(table) if table is not None else {}
    ids = candidates(known, found, paths)
    return PrunePreview([(known[a].uri, known[a].rows) for a in sorted(ids, key=lambda a: known[a].uri)],
                        found.skipped)  # fmt: skip


def known_files(table) -> dict[str, Known]:
    """asset id -> what the table holds about that file (rows of older indexes have no ``path_bytes``:
    their path is their ``uri``)."""
    if table.count_rows() == 0:
        return {}
    columns = ["asset_id", "uri", "content_hash"] + (
        ["path_bytes"] if "path_bytes" in table.schema.names else []
    )
    rows = table.search().select(columns).limit(None).to_arrow()
    ids = rows["asset_id"].to_pylist()
    counts = Counter(ids)
    exact = rows["path_bytes"].to_pylist() if "path_bytes" in columns else [None] * len(ids)
    return {aid: Known(uri, h, raw if raw is not None else os.fsencode(uri), counts[aid])
            for aid, uri, h, raw in zip(ids, rows["uri"].to_pylist(), rows["content_hash"].to_pylist(), exact,
                                        strict=True)}  # fmt: skip
