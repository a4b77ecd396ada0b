"""Reading inputs (paths, bytes, PIL images, arrays), hashing them, and sniffing their kind by content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from omniret.media.errors import EmptyMediaError, MediaTooLargeError, UnreadableMediaError

MAX_FILE_BYTES = 4 * 1024**3  # 4 GiB


def describe(src) -> str:
    """A short human name for an input, used in every error message."""
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return f"<{len(src)} bytes>"
    return f"<{type(src).__name__}>"


def read_bytes(src, *, max_bytes: int = MAX_FILE_BYTES, limit: int | None = None) -> bytes:
    """The raw bytes of a path or bytes input (the first ``limit`` bytes when given), with
    empty/unreadable/oversized files named."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    else:
        path = Path(src)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise MediaTooLargeError(str(src), f"file is {size} bytes, over the {max_bytes}-byte limit")
            with path.open("rb") as f:
                data = f.read() if limit is None else f.read(limit)
        except MediaTooLargeError:
            raise
        except FileNotFoundError:
            raise UnreadableMediaError(str(src), "file not found") from None
        except IsADirectoryError:
            raise UnreadableMediaError(str(src), "is a directory, not a file") from None
        except PermissionError:
            raise UnreadableMediaError(str(src), "permission denied") from None
        except OSError as err:
            raise UnreadableMediaError(str(src), f"cannot read ({err.strerror or err})") from None
    if not data:
        raise EmptyMediaError(describe(src), "file is empty (0 bytes)")
    return data


def open_source(src, *, max_bytes: int = MAX_FILE_BYTES):
    """(a path string or the bytes, first 4 KiB) without reading a whole file into memory: a long
    video is decoded span by span straight from disk. Bad files fail as ``read_bytes`` does."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = read_bytes(src)
        return data, data[:4096]
    return str(Path(src)), read_bytes(src, max_bytes=max_bytes, limit=4096)


def av_input(source):
    """What ``av.open`` takes for a source from ``open_source``: the path, or a fresh stream over the bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        import io

        return io.BytesIO(source)
    return source


def file_digest(path, *, max_bytes: int = MAX_FILE_BYTES, chunk: int = 1 << 20) -> tuple[str, bytes]:
    """(sha256 hex, first 4 KiB) of a file, streamed in 1 MiB chunks: memory stays flat for any size."""
    source, head = open_source(path, max_bytes=max_bytes)
    h = hashlib.sha256()
    try:
        with open(source, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as err:
        raise UnreadableMediaError(str(path), f"cannot read ({err.strerror or err})") from None
    return h.hexdigest(), head


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str | None:
    """Guess the kind from magic bytes: image, audio, video, container (needs a probe), text or None."""
    head = data[:64]
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith((b"fLaC", b"ID3")) or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1"):
        return "audio"
    if head.startswith((b"OggS", b"\x1a\x45\xdf\xa3", b"FORM")) or head[4:8] == b"ftyp":
        return "container"
    if _looks_like_text(data[:4096]):
        return "text"
    return None


def _looks_like_text(head: bytes) -> bool:
    for cut in range(4):  # the slice may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    return bool(text) and sum(c.isprintable() or c.isspace() for c in text) / len(text) > 0.95
