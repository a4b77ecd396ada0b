"""``/media/{asset_id}``: an indexed file by its id (never by a path), with HTTP range requests so
audio and video seek; ``/media/{asset_id}/keyframe``: a video moment's stored JPEG."""

from __future__ import annotations

import mimetypes
import os
import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from omniret.index.filters import quote
from omniret.index.objects import is_uri
from omniret.index.roots import Boundary
from omniret.serve.inputs import RequestError

router = APIRouter()
ASSET_ID = re.compile(r"^[0-9a-f]{16}$")
SAFE_TYPES = ("image/", "audio/", "video/")  # anything else is sent as text/plain or octet-stream
HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
           "Cache-Control": "private, max-age=3600"}  # fmt: skip


def lookup(service, asset_id: str, segment: str | None = None) -> dict | None:
    """The indexed row of ``asset_id`` (and ``segment``), or None; ids are checked before any query."""
    if not ASSET_ID.match(asset_id) or (
        segment is not None and not re.fullmatch(r"[0-9a-zA-Z:._-]{1,80}", segment)
    ):
        return None
    table = service.index.store.table() if service.index else None
    if table is None:
        return None
    where = f"asset_id = {quote(asset_id)}" + (f" AND segment_id = {quote(segment)}" if segment else "")
    cols = [c for c in ("uri", "path_bytes", "modality", "keyframe") if c in table.schema.names]
    rows = table.search().where(where).select(cols).limit(1).to_list()
    if not rows:
        return None
    row = rows[0]
    row["path"] = row.get("path_bytes") or os.fsencode(row["uri"])
    return row


def _not_found(asset_id: str) -> RequestError:
    return RequestError(f"no indexed item {asset_id!r}", param="asset_id", status=404)


@router.get("/media/{asset_id}")
def media(asset_id: str, request: Request) -> Response:
    service = request.app.state.service
    row = lookup(service, asset_id)
    if row is None:
        raise _not_found(asset_id)
    path = os.fsdecode(row["path"])
    if is_uri(path):  # indexed from a bucket: the server holds no credentials for it
        raise RequestError(f"item {asset_id!r} is an object in a bucket ({path}): the server does not serve "
                           "bucket objects (its thumbnails and page images are served)", status=404)  # fmt: skip
    roots = service.index.store.sidecar().get("access", {})
    boundary = Boundary(tuple(roots.get("roots", ())), allow_outside=bool(roots.get("allow_outside_roots")))
    if not os.path.isfile(path) or (boundary.roots and not boundary.permits(path)):
        raise RequestError(f"item {asset_id!r} is indexed but its file is gone or moved", status=404)
    kind = mimetypes.guess_type(path)[0] or ""
    if not kind.startswith(SAFE_TYPES):
        kind = "text/plain; charset=utf-8" if row["modality"] == "text" else "application/octet-stream"
    return FileResponse(path, media_type=kind, headers=HEADERS)


@router.get("/media/{asset_id}/keyframe")
def keyframe(asset_id: str, request: Request, segment: str | None = None) -> Response:
    row = lookup(request.app.state.service, asset_id, segment)
    if row is None or not row.get("keyframe"):
        raise RequestError(f"no keyframe for item {asset_id!r}" + (f" segment {segment!r}" if segment else ""),
                           status=404)  # fmt: skip
    return Response(row["keyframe"], media_type="image/jpeg", headers=HEADERS)
