"""Request JSON -> ``OmniInput``: strings, ``data:`` URIs and OpenAI-style content parts.

One item of ``input`` is a string (text, or a ``data:<mime>;base64,...`` URI), one content part, or a
list of content parts (one composed query: ``[{"type": "image_url", ...}, {"type": "text", ...}]``).
Media only ever arrive as bytes inside the request: the server fetches no URL and opens no path a
client names, and every error names the JSON path of the item (``input[2][1].image_url.url``).
"""

from __future__ import annotations

import base64
import binascii
import re

from omniret.errors import InputError
from omniret.inputs import OmniInput
from omniret.inputs.media.source import container_streams, sniff

MEDIA = ("image", "audio", "video")
PART_TYPES = {"text": "text", "image_url": "image", "input_audio": "audio", "video_url": "video"}
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                       re.IGNORECASE)  # fmt: skip


class RequestError(InputError):
    """A bad request: ``status`` (400, 413, ...) and ``param`` (the JSON path) for the response."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param, self.status = param, status


def parse_inputs(raw, *, modality: str | None = None, instruction: str | None = None, max_items: int,
                 max_item_bytes: int, field: str = "input") -> list[OmniInput]:  # fmt: skip
    """Every item of an embeddings request's ``input`` (a string or a list)."""
    if modality is not None and modality not in ("text", *MEDIA):
        raise RequestError(
            f"modality must be text, image, audio or video, not {modality!r}", param="modality"
        )
    if instruction is not None and not isinstance(instruction, str):
        raise RequestError("instruction must be a string", param="instruction")
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise RequestError(f"{field} must be a string or a non-empty list", param=field)
    if len(raw) > max_items:
        raise RequestError(f"{field} has {len(raw)} items; the limit is {max_items} per request",
                           param=field, status=413)  # fmt: skip
    if all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
        raise RequestError(f"{field}: token ids are not accepted; send the text itself", param=field)
    return [parse_item(x, f"{field}[{i}]", modality=modality, instruction=instruction,
                       max_item_bytes=max_item_bytes) for i, x in enumerate(raw)]  # fmt: skip


def parse_item(item, where: str, *, modality: str | None = None, instruction: str | None = None,
               max_item_bytes: int) -> OmniInput:  # fmt: skip
    if isinstance(item, dict):
        item = [item]
    fields: dict = {}
    if isinstance(item, str):
        _put(fields, *_string(item, where, modality, max_item_bytes), where)
    elif isinstance(item, list) and item:
        for j, part in enumerate(item):
            _put(fields, *_part(part, f"{where}[{j}]", max_item_bytes), f"{where}[{j}]")
    else:
        raise RequestError(f"{where}: expected a string, a content part or a list of content parts, "
                           f"got {_kind(item)}", param=where)  # fmt: skip
    try:
        return OmniInput(**fields, instruction=instruction)
    except InputError as err:
        raise RequestError(f"{where}: {err}", param=where) from None


def _put(fields: dict, name: str, value, where: str) -> None:
    if name in fields:
        if name != "text":
            raise RequestError(f"{where}: a composed input holds at most one {name}", param=where)
        value = f"{fields[name]} {value}"  # several text parts read as one text
    fields[name] = value


def _string(s: str, where: str, modality: str | None, max_bytes: int) -> tuple[str, object]:
    if s.lower().startswith("data:"):
        return data_uri(s, where, max_bytes, want=None if modality in (None, "text") else modality)
    if modality in MEDIA:
        raise RequestError(f"{where}: modality {modality} needs a data:<mime>;base64,... URI "
                           "(the server fetches no URL and reads no server path)", param=where)  # fmt: skip
    if len(s.encode()) > max_bytes:
        raise RequestError(f"{where}: the text is {len(s.encode()):,} bytes, above the per-item limit of "
                           f"{max_bytes:,} bytes", param=where, status=413)  # fmt: skip
    return "text", s


def _part(part, where: str, max_bytes: int) -> tuple[str, object]:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise RequestError(f"{where}: a content part is an object with a \"type\" "
                           f"({', '.join(PART_TYPES)}), got {_kind(part)}", param=where)  # fmt: skip
    kind = part["type"]
    if kind not in PART_TYPES:
        raise RequestError(f"{where}.type: expected one of {', '.join(PART_TYPES)}, got {kind!r}",
                           param=f"{where}.type")  # fmt: skip
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise RequestError(f"{where}.text must be a string", param=f"{where}.text")
        if len(text.encode()) > max_bytes:
            raise RequestError(f"{where}.text is {len(text.encode()):,} bytes, above the per-item limit of "
                               f"{max_bytes:,} bytes", param=f"{where}.text", status=413)  # fmt: skip
        return "text", text
    if kind == "input_audio":  # OpenAI's shape: {"data": base64, "format": "wav" | "mp3" | ...}
        body = part.get("input_audio")
        if not isinstance(body, dict) or not isinstance(body.get("data"), str):
            raise RequestError(
                f"{where}.input_audio.data must be a base64 string", param=f"{where}.input_audio.data"
            )
        fmt = body.get("format") if isinstance(body.get("format"), str) else "octet-stream"
        data = body["data"]
        if not data.lower().startswith("data:"):
            data = f"data:audio/{fmt};base64,{data}"
        return data_uri(data, f"{where}.input_audio.data", max_bytes, want="audio")
    body = part.get(kind)
    url = body.get("url") if isinstance(body, dict) else body
    path = f"{where}.{kind}.url" if isinstance(body, dict) else f"{where}.{kind}"
    if not isinstance(url, str):
        raise RequestError(f"{path} must be a data: URI string", param=path)
    if not url.lower().startswith("data:"):
        raise RequestError(f"{path}: only data:<mime>;base64,... URIs are accepted (the server fetches no "
                           "URL and reads no server path)", param=path)  # fmt: skip
    return data_uri(url, path, max_bytes, want=PART_TYPES[kind])


def data_uri(uri: str, where: str, max_bytes: int, *, want: str | None) -> tuple[str, bytes]:
    """(modality, bytes) of a base64 ``data:`` URI; the bytes must be what the MIME type and ``want``
    say (sniffed from their magic numbers, probed with FFmpeg for containers)."""
    m = _DATA_URI.match(uri)
    if not m or not m.group("b64"):
        raise RequestError(f"{where}: expected data:<mime>;base64,<data>", param=where)
    payload = uri[m.end() :]
    if len(payload) * 3 // 4 > max_bytes + 2:  # refuse before decoding
        raise RequestError(f"{where}: the medium is about {len(payload) * 3 // 4:,} bytes, above the per-item "
                           f"limit of {max_bytes:,} bytes", param=where, status=413)  # fmt: skip
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"{where}: the data is not valid base64", param=where) from None
    if not data:
        raise RequestError(f"{where}: the data URI holds no bytes", param=where)
    mime = (m.group("mime") or "").lower()
    declared = mime.split("/")[0] if mime.split("/")[0] in MEDIA else None
    found = sniff_media(data, hint=want or declared)
    if found is None:
        raise RequestError(f"{where}: the bytes are no image, audio or video format omniret reads "
                           f"(declared {mime or 'no type'})", param=where)  # fmt: skip
    for claim, source in ((declared, f"declared {mime}"), (want, f"expected {want}")):
        if claim is not None and claim != found:
            raise RequestError(f"{where}: {source} but the bytes are {found}", param=where)
    return found, data


def sniff_media(source: bytes | str, *, head: bytes | None = None, hint: str | None = None) -> str | None:
    """image | audio | video from the bytes (or a file's ``head``); a container (MP4, Ogg, Matroska)
    by its streams, a video with sound counting as audio where the client said audio."""
    kind = sniff(source if head is None else head)
    if kind in MEDIA:
        return kind
    if kind != "container":
        return None
    try:
        video, audio = container_streams(source)
    except Exception:  # not decodable: refused as "no format omniret reads"
        return None
    if video:
        return "audio" if hint == "audio" and audio else "video"
    return "audio" if audio else None


def _kind(x) -> str:
    return "an empty list" if x == [] else type(x).__name__
