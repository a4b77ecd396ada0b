"""Files that reach the index through the server: uploads kept under one directory by content, and
server-side paths only below the roots the operator allowed (``--allow-root``)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from fastapi import Request
from starlette.datastructures import UploadFile

from omniret.index.documents import is_pdf
from omniret.index.roots import Boundary
from omniret.inputs.media.source import sniff
from omniret.serve.inputs import RequestError, sniff_media
from omniret.serve.media import lookup
from omniret.serve.settings import ServeSettings

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
CHUNK = 1 << 20
HEAD = 4096  # what content sniffing reads (magic numbers, text detection)


async def save_uploads(request: Request, s: ServeSettings) -> list[Path]:
    """Every part named ``files``, checked (count, size, content) before any is kept; each is stored
    as ``<uploads>/<sha256[:16]>/<safe name>``, so the same content uploaded twice is one file."""
    form = await request.form(max_files=s.max_items, max_fields=16, max_part_size=1 << 20)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise RequestError(
            'files: no file in the form (send each file in a part named "files")', param="files"
        )
    staged = []
    try:
        for i, f in enumerate(files):
            staged.append(_stage(f, f"files[{i}] ({f.filename or 'unnamed'})", s))
        return [_keep(tmp, digest, name, s) for tmp, digest, name in staged]
    finally:
        for tmp, _, _ in staged:
            tmp.unlink(missing_ok=True)
        await form.close()


def _stage(f: UploadFile, where: str, s: ServeSettings) -> tuple[Path, str, str]:
    """Copy one upload to a temporary file, hashing it and keeping its head for the content check."""
    s.uploads.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    fd, name = tempfile.mkstemp(dir=s.uploads, prefix=".upload-")
    tmp = Path(name)
    with os.fdopen(fd, "wb") as out:
        f.file.seek(0)
        while chunk := f.file.read(CHUNK):
            size += len(chunk)
            if size > s.max_item_bytes:
                tmp.unlink(missing_ok=True)
                raise RequestError(f"{where}: the file is over the per-item limit of {s.max_item_bytes:,} bytes",
                                   param="files", status=413)  # fmt: skip
            head = head or chunk[:HEAD]
            digest.update(chunk)
            out.write(chunk)
    kind = "document" if is_pdf(head) else sniff(head)
    if kind == "container":
        kind = sniff_media(str(tmp), head=head)
    if kind not in ("image", "audio", "video", "text", "document"):
        tmp.unlink(missing_ok=True)
        raise RequestError(f"{where}: the bytes are no image, audio, video, text or PDF file omniret indexes",
                           param="files")  # fmt: skip
    return tmp, digest.hexdigest(), safe_name(f.filename, kind)


def safe_name(filename: str | None, kind: str) -> str:
    """The client's base name with only plain characters kept (no path, no dot files)."""
    base = _UNSAFE.sub("_", (filename or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    if not base:
        base = {"text": "upload.txt", "document": "upload.pdf"}.get(kind, f"upload.{kind}")
    return base[:120]


def _keep(tmp: Path, digest: str, name: str, s: ServeSettings) -> Path:
    folder = s.uploads / digest[:16]
    folder.mkdir(exist_ok=True)
    target = folder / name
    if not target.exists():
        shutil.copyfile(tmp, target)
    return target


def allowed_paths(paths: list[str], s: ServeSettings) -> list[Path]:
    """Server-side paths, each resolved and inside an allowed root, or a 403 naming it."""
    if not s.allowed_roots:
        raise RequestError("paths: server-side paths are off (start the server with --allow-root DIR)",
                           param="paths", status=403)  # fmt: skip
    if not paths or len(paths) > s.max_items:
        raise RequestError(f"paths: expected 1 to {s.max_items} paths, got {len(paths)}", param="paths")
    allowed = Boundary.of(s.allowed_roots)
    out = []
    for i, p in enumerate(paths):
        real = os.path.realpath(p)
        if not allowed.contains(real):
            raise RequestError(
                f"paths[{i}]: {p!r} is not inside an allowed root", param=f"paths[{i}]", status=403
            )
        if not os.path.exists(real):
            raise RequestError(f"paths[{i}]: {p!r} does not exist", param=f"paths[{i}]", status=404)
        out.append(Path(real))
    return out


def stored_path(service, asset_id: str) -> Path | None:
    row = lookup(service, asset_id)
    return Path(os.fsdecode(row["path"])) if row else None


def forget(path: Path | None, s: ServeSettings) -> None:
    """A deleted upload's file goes too (only ours: files under the uploads directory)."""
    if path is None:
        return
    real = os.path.realpath(path)
    if Boundary.of([s.uploads]).contains(real) and os.path.isfile(real):
        os.unlink(real)
        try:
            os.rmdir(os.path.dirname(real))
        except OSError:
            pass
