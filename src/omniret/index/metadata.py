"""User metadata from a JSON file beside a media file (``photo.png.json`` or ``photo.json``).

Stored with every row of the file, filterable with ``--where`` and searchable by keyword. A sidecar is
read with the same care as the media (never a FIFO, never outside the index job's roots, bounded
size); one that cannot be used is ignored with a warning on the job's report, never fatal.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from omniret.index.files import display, printable
from omniret.index.roots import Boundary

MAX_SIDECAR_BYTES = 1 << 20  # a metadata sidecar larger than this is ignored (with a warning)


def sidecar_meta(path: Path, report=None, boundary: Boundary | None = None) -> dict:
    """User metadata from ``file.ext.json`` or ``file.json`` beside the file, if any; ``report``: where
    warnings go (anything with a ``warnings`` list). One that cannot be
    used (not a readable regular file, not UTF-8 JSON, not an object, outside the roots) is ignored
    with a warning."""
    for cand in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if cand == path or not cand.is_file():  # is_file follows links with stat: never opens a FIFO
            continue
        problem = None
        try:  # a regular file beside the indexed one is its sidecar; a link must stay inside the roots
            beside = not os.path.islink(cand) and os.path.realpath(cand) == os.fspath(cand)
            if boundary is not None and not beside:
                boundary.check(cand)
            fd = os.open(cand, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(errno.EINVAL, "not a regular file")
                raw = f.read(MAX_SIDECAR_BYTES + 1)
            if len(raw) > MAX_SIDECAR_BYTES:
                raise ValueError(f"over {MAX_SIDECAR_BYTES} bytes")
            data = json.loads(raw.decode("utf-8"))
            if isinstance(data, dict):
                return data
            problem = f"metadata sidecar {display(cand)} is not a JSON object: ignored"
        except (OSError, ValueError) as err:  # ValueError: not UTF-8 or not JSON
            problem = (
                f"metadata sidecar {display(cand)} cannot be used ({printable(str(err))[:200]}): ignored"
            )
        if report is not None:
            report.warnings.append((display(path), problem))
        return {}
    return {}
