"""omniret.inputs.media.source: reading and hashing inputs, sniffing their kind, decoding text files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from omniret.inputs.media import (
    EmptyMediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    load_audio,
    sniff,
)
from omniret.inputs.media.source import decode_text, describe, file_digest, read_bytes, read_text
from tests.conftest import guarded
from tests.helpers.media import dominant_frequency, png_bytes, sine


def test_file_digest_streams_and_names_bad_files(tmp_path):
    import hashlib

    data = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    digest, head = file_digest(tmp_path / "big.bin", chunk=1 << 20)
    assert digest == hashlib.sha256(data).hexdigest() and head == data[:4096]
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.bin: file is empty"):
        file_digest(tmp_path / "empty.bin")
    with pytest.raises(UnreadableMediaError, match=r"missing\.bin: file not found"):
        file_digest(tmp_path / "missing.bin")
    with pytest.raises(MediaTooLargeError, match="over the 1000-byte limit"):
        file_digest(tmp_path / "big.bin", max_bytes=1000)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_file_digest_refuses_a_fifo_without_blocking(tmp_path):
    """A FIFO put where a file was expected would block ``open`` forever without O_NONBLOCK."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)

    def digest_fifo():
        with pytest.raises(UnreadableMediaError, match=r"pipe\.wav: not a regular file"):
            file_digest(fifo)

    guarded(digest_fifo, fifos=[fifo], timeout=10)


def test_file_digest_names_a_directory(tmp_path):
    """Named as a directory (not by a descriptor number), and its descriptor closed."""
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(UnreadableMediaError, match="is a directory, not a file"):
            file_digest(tmp_path)
    assert len(os.listdir("/proc/self/fd")) == before


def test_sniff_by_content():
    assert sniff(png_bytes(Image.new("RGB", (2, 2)))) == "image"
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio"
    assert sniff(b"\x00\x00\x00\x18ftypmp42") == "container"
    assert sniff("héllo wörld\n".encode()) == "text"
    assert sniff(bytes(range(256))) is None


def test_sniff_does_not_take_text_that_starts_like_a_magic_number_for_media():
    """Text may begin with "BM" or "ID3"; only the real headers that follow make them media."""
    assert sniff(b"BMW sales report for the year\n") == "text"
    assert sniff(b"ID3 tags explained\n") == "text"
    assert sniff(b"ID3\x03\x00" + bytes(20)) == "audio"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == "video"
    assert sniff(b"FORM\x00\x00\x00\x00AIFFCOMM") == "container"


def test_read_bytes_names_missing_directories_oversized_and_reads_a_head(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"0123456789")
    assert read_bytes(tmp_path / "f.bin", limit=4) == b"0123"
    assert read_bytes(bytearray(b"ab")) == b"ab"
    with pytest.raises(MediaTooLargeError, match=r"f\.bin: file is 10 bytes, over the 5-byte limit"):
        read_bytes(tmp_path / "f.bin", max_bytes=5)
    with pytest.raises(UnreadableMediaError, match=r"nope\.bin: file not found"):
        read_bytes(tmp_path / "nope.bin")
    with pytest.raises(UnreadableMediaError, match="is a directory, not a file"):
        read_bytes(tmp_path)
    assert describe(tmp_path / "f.bin") == str(tmp_path / "f.bin")
    assert describe(b"abc") == "<3 bytes>" and describe(np.zeros(2)) == "<ndarray>"


def test_decode_text_reads_boms_tolerates_a_few_bad_bytes_and_refuses_binary():
    assert decode_text("héllo".encode("utf-16")) == "héllo"  # BOM-marked UTF-16
    assert decode_text("héllo".encode("utf-32")) == "héllo"
    assert decode_text(b"\xef\xbb\xbfplain") == "plain"  # the UTF-8 BOM is dropped
    assert decode_text(b"caf\xe9 au lait") == "caf\ufffd au lait"  # one Latin-1 byte: still text
    assert decode_text(bytes(range(128, 256))) is None  # all invalid: binary
    cut = "日本".encode()[:-1]  # a head that ends inside a three-byte character
    assert decode_text(cut, partial=True) == "日"  # the head's cut character is left out
    assert decode_text(cut) == "日\ufffd\ufffd"  # a whole file: two bad bytes are still allowed


def test_read_text_uses_universal_newlines_and_names_a_file_that_is_not_text(tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"one\r\ntwo\rthree\n")
    assert read_text(tmp_path / "notes.txt") == "one\ntwo\nthree\n"
    (tmp_path / "photo.txt").write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(UnsupportedMediaError, match=r"photo\.txt: not text: neither UTF-8"):
        read_text(tmp_path / "photo.txt")


def test_a_container_tag_that_is_not_utf8_does_not_stop_decoding(tmp_path):
    """PyAV decodes container metadata strictly; one damaged ID3 title made every reader fail with a
    bare UnicodeDecodeError before any stream was read (found by tests/inputs/media/test_corpus.py)."""
    import av

    from omniret.index.files import detect, duration

    path = tmp_path / "tagged.mp3"
    wave = sine(440.0, 1.0, 16000)
    with av.open(str(path), "w", format="mp3") as out:
        out.metadata["title"] = "TITLEMARK"
        stream = out.add_stream("mp3", rate=16000, layout="mono")
        for i in range(0, len(wave), 1152):
            frame = av.AudioFrame.from_ndarray(wave[None, i : i + 1152], format="flt", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = path.read_bytes()
    assert data.count(b"TITLEMARK") == 1
    path.write_bytes(data.replace(b"TITLEMARK", b"TI\xae\xb0LEMRK"))  # same length: offsets unchanged
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path))  # the trap, still there in PyAV's default
    got = load_audio(path)
    assert abs(len(got) - 16000) <= 1152 and abs(dominant_frequency(got, 16000) - 440) < 5
    assert detect(path, data[:64]) == "audio" and 0.9 < duration(path, "audio", len(data)) < 1.2
