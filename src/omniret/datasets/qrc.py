"""Reading Qt binary resource files (``.rcc``) without Qt.

GCompris ships its photos, sounds and texts inside ``/usr/share/gcompris-qt/rcc/*.rcc``; this
reads them with the standard library so the OOD builder needs no Qt bindings. Format (qrc v1-v3):
a 20-byte header ``qres, version, tree, data, names`` (v3 adds 4 flag bytes), a tree of 14-byte
(v1) or 22-byte (v2+) entries, names as UTF-16BE with a length and hash, and each payload as a
4-byte length plus the bytes (zlib payloads carry 4 more bytes: the uncompressed size).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from omniret.errors import InputError

DIRECTORY, COMPRESSED, COMPRESSED_ZSTD = 0x02, 0x01, 0x04


class QrcError(InputError):
    """Not a readable Qt resource file; the message names the file and the reason."""


def read_qrc(path: str | Path) -> dict[str, bytes]:
    """Every file in the resource, ``/full/path`` -> bytes (zstd payloads are skipped)."""
    blob = Path(path).read_bytes()
    if blob[:4] != b"qres":
        raise QrcError(f"{path}: not a Qt resource file (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    entry = 14 if version == 1 else 22
    out: dict[str, bytes] = {}

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset : names + offset + 2])
        start = names + offset + 6  # length (2) + hash (4)
        return blob[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> None:
        at = tree + index * entry
        name_offset, flags = struct.unpack(">IH", blob[at : at + 6])
        here = name(name_offset) if index else ""
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", blob[at + 6 : at + 14])
            for child in range(first, first + count):
                walk(child, f"{prefix}{here}/")
            return
        (offset,) = struct.unpack(">I", blob[at + 10 : at + 14])
        (length,) = struct.unpack(">I", blob[data + offset : data + offset + 4])
        raw = blob[data + offset + 4 : data + offset + 4 + length]
        if flags & COMPRESSED_ZSTD:
            return
        out[f"{prefix}{here}"] = zlib.decompress(raw[4:]) if flags & COMPRESSED else raw

    try:
        walk(0, "")
    except (struct.error, zlib.error, UnicodeDecodeError, RecursionError) as err:
        raise QrcError(f"{path}: damaged Qt resource file ({err})") from None
    return out
