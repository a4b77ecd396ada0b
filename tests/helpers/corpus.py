"""A generated corpus of damaged media for the readers and the indexer (issue 12).

From a handful of good files made here (every image, audio and video container the indexer reads, plus
text) it derives truncations, seeded bit flips, headers of another format in front of a good body,
headers that declare absurd sizes, and odd file-system entries. Each entry carries what a correct reader
must do with it:

- ``good``: indexed (the untouched originals);
- ``bad``: reported with a reason and never stored (no decodable content, or a declared size over a
  limit);
- ``either``: damage a lenient decoder may survive (a flipped bit in compressed data, a cut MP3 is a
  shorter MP3), so indexed *or* reported — never a traceback, a hang or a non-finite vector.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers.media import sine, write_audio, write_video

GOOD, BAD, EITHER = "good", "bad", "either"
MAGIC = {  # a header of another format, glued in front of a good body
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff\xe0",
    "wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "flac": b"fLaC",
    "ogg": b"OggS\x00\x02",
    "mp4": b"\x00\x00\x00\x18ftypisom",
}


@dataclass(frozen=True)
class Entry:
    name: str
    expect: str  # GOOD, BAD or EITHER
    how: str  # what was done to it, for failure messages


def _gradient(size: int = 48) -> Image.Image:
    x = np.linspace(0, 255, size, dtype=np.uint8)
    rgb = np.stack(
        [np.tile(x, (size, 1)), np.tile(x[:, None], (1, size)), np.full((size, size), 90, np.uint8)], -1
    )
    return Image.fromarray(rgb)


def originals(root: Path) -> dict[str, bytes]:
    """The good files: name -> bytes (also written to ``root``)."""
    img = _gradient()
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("WEBP", "webp"), ("BMP", "bmp"),
                     ("TIFF", "tiff")):  # fmt: skip
        img.save(root / f"image.{ext}", format=fmt)
    wave = sine(440.0, 1.5, 16000)
    for ext in ("wav", "flac", "ogg", "mp3"):
        write_audio(root / f"tone.{ext}", wave, 16000)
    write_video(root / "clip.mp4", [(200, 30, 30), (30, 30, 200)], fps=5, seconds_each=1.0, size=32)
    (root / "note.txt").write_text("A short note about espresso and the morning train.\n")
    (root / "notes.md").write_text("# Plans\n\nFirst passage about kites.\n\nSecond passage about tides.\n")
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def _flip(data: bytes, rng: random.Random, n: int, lo: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(min(lo, len(out) - 1), len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _declared_huge() -> dict[str, bytes]:
    """Valid-looking headers whose sizes are absurd: a reader must refuse them without allocating."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # 10^10 pixels, correct CRC
    idat = zlib.compress(b"\x00" * 64)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    gif = (
        b"GIF89a"
        + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    wav_data = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    wav_data += b"data" + struct.pack("<I", 0xFFFFFFF0) + b"\x00\x01" * 64
    zero_rate = b"RIFF" + struct.pack("<I", 36 + 128) + b"WAVEfmt " + struct.pack("<I", 16)
    zero_rate += struct.pack("<HHIIHH", 1, 1, 0, 0, 2, 16) + b"data" + struct.pack("<I", 128) + b"\x00" * 128
    many_ch = b"RIFF" + struct.pack("<I", 36 + 128) + b"WAVEfmt " + struct.pack("<I", 16)
    many_ch += (
        struct.pack("<HHIIHH", 1, 65535, 16000, 0, 0, 16) + b"data" + struct.pack("<I", 128) + b"\x00" * 128
    )
    bmp = (
        b"BM"
        + struct.pack("<IHHI", 54, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 1 << 30, 1 << 30, 1, 24, 0, 0, 0, 0, 0, 0)
    )
    return {"huge-dims.png": png, "huge-screen.gif": gif, "huge-data.wav": wav_data, "rate-zero.wav": zero_rate,
            "channels-65535.wav": many_ch, "huge-dims.bmp": bmp}  # fmt: skip


def build(root: Path, *, seed: int = 0, flip_rounds: int = 1) -> list[Entry]:
    """Write the corpus into ``root`` (created); ``flip_rounds`` sets of seeded bit flips per original."""
    src = root.parent / f"{root.name}-originals"  # made outside the indexed folder
    src.mkdir(parents=True)
    root.mkdir(parents=True)
    good = originals(src)
    rng = random.Random(seed)
    entries: list[Entry] = []

    def put(name: str, data: bytes, expect: str, how: str) -> None:
        (root / name).write_bytes(data)
        entries.append(Entry(name, expect, how))

    for name, data in good.items():
        stem, ext = name.rsplit(".", 1)
        put(name, data, GOOD, "original")
        if ext in ("txt", "md"):
            put(f"{stem}-nul.{ext}", data[:20] + b"\x00\x01\x02\x03" * 64, BAD, "text with binary bytes")
            continue
        put(f"{stem}-empty.{ext}", b"", BAD, "zero bytes")
        put(f"{stem}-head16.{ext}", data[:16], BAD, "cut to its first 16 bytes")
        for frac in (0.25, 0.5, 0.9):
            put(
                f"{stem}-cut{int(frac * 100)}.{ext}",
                data[: int(len(data) * frac)],
                EITHER,
                f"cut at {frac:.0%}",
            )
        for r in range(flip_rounds):
            for n in (1, 16, 256):
                put(
                    f"{stem}-flip{n}-r{r}.{ext}",
                    _flip(data, rng, n, lo=64),
                    EITHER,
                    f"{n} bit flips after byte 64",
                )
            put(f"{stem}-hdrflip-r{r}.{ext}", _flip(data, rng, 4, lo=0), EITHER, "4 bit flips anywhere")
        for fmt, magic in MAGIC.items():
            if not data.startswith(magic[:4]) and fmt != ext:
                put(f"{stem}-as-{fmt}.{ext}", magic + data[len(magic) :], BAD, f"{fmt} magic over its header")
    for name, data in _declared_huge().items():
        put(name, data, BAD, "declares an absurd size")
    put("random.bin", bytes(rng.randrange(256) for _ in range(4096)), BAD, "random bytes")
    put(
        "random.jpg",
        b"\xff\xd8\xff" + bytes(rng.randrange(256) for _ in range(4096)),
        BAD,
        "JPEG magic, random body",
    )
    os.mkfifo(root / "pipe.wav")
    entries.append(Entry("pipe.wav", BAD, "a FIFO"))
    (root / "dangling.mp4").symlink_to(root / "no-such-file.mp4")
    entries.append(Entry("dangling.mp4", BAD, "a dangling symlink"))
    return entries
