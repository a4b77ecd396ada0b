"""omniret.datasets.qrc: Qt resource files read with the standard library, checked on files written
here by hand from the format description (v1 to v3) and on a real GCompris file when installed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from omniret.datasets.qrc import COMPRESSED, COMPRESSED_ZSTD, DIRECTORY, QrcError, read_qrc

BIG = b"a long and repetitive payload " * 40


def qrc_bytes(version: int) -> bytes:
    """/a.txt (stored), /img/x.bin (zlib) and /img/y.zst (zstd, which the reader skips)."""
    names, name_at = b"", {}
    for n in ("a.txt", "img", "x.bin", "y.zst"):
        name_at[n] = len(names)
        names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")  # length, hash (unused), name
    data, data_at = b"", []
    for payload in (b"hello", struct.pack(">I", len(BIG)) + zlib.compress(BIG), b"zstd frame"):
        data_at.append(len(data))
        data += struct.pack(">I", len(payload)) + payload
    stamp = b"\0" * 8 if version >= 2 else b""  # v2+ entries end with a modification time

    def folder(name: int, count: int, first: int) -> bytes:
        return struct.pack(">IHII", name, DIRECTORY, count, first) + stamp

    def file(name: int, flags: int, offset: int) -> bytes:
        return struct.pack(">IHHHI", name, flags, 0, 0, offset) + stamp  # country, language, data offset

    tree = (folder(0, 2, 1) + file(name_at["a.txt"], 0, data_at[0]) + folder(name_at["img"], 2, 3)
            + file(name_at["x.bin"], COMPRESSED, data_at[1]) + file(name_at["y.zst"], COMPRESSED_ZSTD, data_at[2]))  # fmt: skip
    start = 24 if version >= 3 else 20  # v3 adds 4 flag bytes to the header
    header = b"qres" + struct.pack(">IIII", version, start, start + len(tree), start + len(tree) + len(data))
    return header + b"\0" * (start - 20) + tree + data + names


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_stored_and_zlib_file_is_read_under_its_full_path(tmp_path, version):
    path = tmp_path / "x.rcc"
    path.write_bytes(qrc_bytes(version))
    assert read_qrc(path) == {"/a.txt": b"hello", "/img/x.bin": BIG}


def test_other_files_and_damaged_ones_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "x.rcc"
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(QrcError, match=r"x\.rcc: not a Qt resource file \(no 'qres' magic\)"):
        read_qrc(path)
    path.write_bytes(qrc_bytes(2)[:30])  # cut inside the root entry
    with pytest.raises(QrcError, match=r"x\.rcc: damaged Qt resource file"):
        read_qrc(path)


def test_a_real_gcompris_resource_file_holds_whole_ogg_files():
    real = Path("/usr/share/gcompris-qt/rcc/memory-sound.rcc")
    if not real.is_file():
        pytest.skip("Debian package gcompris-qt-data is not installed")
    files = read_qrc(real)
    oggs = [data for key, data in files.items() if key.endswith(".ogg")]
    assert oggs and all(data[:4] == b"OggS" for data in oggs)
    assert all(key.startswith("/gcompris/src/activities/") for key in files)
