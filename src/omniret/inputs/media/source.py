"""Reading inputs (paths, bytes, PIL images, arrays), hashing them, and sniffing their kind by content."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from pathlib import Path

from omniret.inputs.media.errors import (
    EmptyMediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
)

MAX_FILE_BYTES = 4 * 1024**3  # 4 GiB
MAX_BAD_TEXT_SHARE = 0.01  # text with fewer invalid bytes than this is still text (decoded with U+FFFD)


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


def open_container(source):
    """``av.open`` for reading a path or bytes. Container metadata (titles, tags) that is not valid
    UTF-8 is decoded with replacement characters: PyAV's strict default turns one damaged tag into a
    ``UnicodeDecodeError`` before any stream is looked at."""
    import av

    return av.open(av_input(source), metadata_errors="replace")


def container_streams(source) -> tuple[bool, bool]:
    """(has video, has audio) of a container (path or bytes), from its headers; a cover picture
    attached to an audio file is no video. Raises whatever FFmpeg raises for unreadable data."""
    import av

    with open_container(source) as c:
        video = any(not (s.disposition & av.stream.Disposition.attached_pic) for s in c.streams.video)
        return video, bool(c.streams.audio)


def file_digest(
    path, *, max_bytes: int = MAX_FILE_BYTES, chunk: int = 1 << 20, check=None
) -> tuple[str, bytes]:
    """(sha256 hex, first 4 KiB) of a regular file, streamed in 1 MiB chunks: memory stays flat for any
    size. Opened once, without blocking, and checked with ``fstat`` before anything is read: a FIFO or
    device put in a file's place is refused instead of hanging or reading forever. ``check(fd)``, when
    given, vets the opened descriptor before anything is read (the index's roots, ``index/roots.py``)."""
    name = describe(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise UnreadableMediaError(name, _os_reason(err)) from None
    h, head = hashlib.sha256(), b""
    if stat.S_ISDIR(os.fstat(fd).st_mode):  # before fdopen, which refuses a directory by its fd number
        os.close(fd)
        raise UnreadableMediaError(name, "is a directory, not a file")
    with os.fdopen(fd, "rb", buffering=0) as f:
        if check is not None:
            check(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableMediaError(name, "not a regular file (a FIFO, socket or device): not read")
        if st.st_size > max_bytes:
            raise MediaTooLargeError(name, f"file is {st.st_size} bytes, over the {max_bytes}-byte limit")
        try:
            while block := f.read(chunk):
                if len(head) < 4096:
                    head += block[: 4096 - len(head)]
                h.update(block)
        except OSError as err:
            raise UnreadableMediaError(name, _os_reason(err)) from None
    if not head:
        raise EmptyMediaError(name, "file is empty (0 bytes)")
    return h.hexdigest(), head


def _os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "file not found"
    if isinstance(err, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(err, PermissionError):
        return "permission denied"
    return f"cannot read ({err.strerror or err})"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_BMP_HEADER_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)  # BITMAPCOREHEADER ... BITMAPV5HEADER


def sniff(data: bytes) -> str | None:
    """Guess the kind from magic bytes: image, audio, video, container (needs a probe), text or None."""
    head = data[:64]
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")):
        return "image"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:  # not "BM..." text
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if head.startswith(b"fLaC") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1"):
        return "audio"
    if head[:3] == b"ID3" and head[3:4] in (b"\x02", b"\x03", b"\x04"):  # ID3v2.2-2.4, not "ID3 ..." text
        return "audio"
    if head.startswith((b"OggS", b"\x1a\x45\xdf\xa3")) or head[4:8] == b"ftyp":
        return "container"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):  # IFF: only AIFF is media
        return "container"
    if _looks_like_text(data[:4096]):
        return "text"
    return None


def _looks_like_text(head: bytes) -> bool:
    text = decode_text(head, partial=True)
    return bool(text) and sum(c.isprintable() or c.isspace() for c in text) / len(text) > 0.95


_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip
_ESCAPED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as kept by surrogateescape
_LONE = re.compile("[\ud800-\udfff]")  # unpaired UTF-16 surrogates, as kept by surrogatepass


def decode_text(data: bytes, *, partial: bool = False, max_bad: float = MAX_BAD_TEXT_SHARE) -> str | None:
    """The text in ``data``, or None when it is not text.

    UTF-16 and UTF-32 are recognised by their byte-order mark (a UTF-8 one is dropped); anything else
    must be UTF-8, where a few invalid bytes (at most ``max_bad`` of them, and always two) become
    U+FFFD instead of making the file "not text"; binary data has far more. ``partial``: ``data`` is
    the head of a longer file and may end inside a character."""
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), None)
    allowed = max(2, int(max_bad * len(data)))
    if codec == "utf-32":
        body = data[: len(data) - len(data) % 4] if partial else data
        try:
            return body.decode("utf-32")
        except UnicodeDecodeError:
            return None
    if codec == "utf-16":
        body = data[: len(data) - len(data) % 2] if partial else data
        odd = len(body) % 2
        text = body[: len(body) - odd].decode("utf-16", "surrogatepass")
        if partial and text and "\ud800" <= text[-1] <= "\udbff":  # a pair cut by the head
            text = text[:-1]
        bad = 2 * len(_LONE.findall(text)) + odd
        return _LONE.sub("\ufffd", text) + ("\ufffd" if odd else "") if bad <= allowed else None
    if codec == "utf-8":
        data = data[len(codecs.BOM_UTF8) :]
    best = None
    for cut in range(4 if partial else 1):  # the head may end inside a multi-byte character
        text = data[: len(data) - cut].decode("utf-8", "surrogateescape")
        bad = len(_ESCAPED.findall(text))
        if best is None or bad < best[0]:
            best = (bad, text)
        if not bad:
            break
    bad, text = best
    return _ESCAPED.sub("\ufffd", text) if bad <= allowed else None


def read_text(path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A text file's content (see ``decode_text``) with universal newlines (CRLF and CR become LF, as
    ``open(..., "r")`` does); a file that is not text is refused by name."""
    text = decode_text(read_bytes(path, max_bytes=max_bytes))
    if text is None:
        raise UnsupportedMediaError(
            describe(path),
            f"not text: neither UTF-8 (with under {MAX_BAD_TEXT_SHARE:.0%} invalid bytes) nor UTF-16/UTF-32 "
            "with a byte-order mark",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")
