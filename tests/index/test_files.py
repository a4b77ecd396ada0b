"""Issue 12: no file-system entry aborts or hangs ``omniret index``; odd text encodings are indexed,
not dropped (a file name that is not UTF-8: ``test_indexer.py``; an index from before ``path_bytes``:
``test_store.py``).

Every run that could block on a FIFO goes through ``guarded``: the indexer runs in a thread joined
with a timeout, and a hung ``open`` of a FIFO is released afterwards, so a regression fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import builtins
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.index import Index
from tests.conftest import guarded
from tests.index.conftest import rows_by_key

pytest.importorskip("lancedb")

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _png(path: Path, colour=(10, 200, 30)) -> None:
    Image.new("RGB", (24, 24), colour).save(path)


def _odd_entries(root: Path) -> dict[str, str]:
    """Every kind of entry that is not an indexable file, created in ``root``: name -> words its reason
    must contain."""
    os.mkfifo(root / "pipe")
    (root / "to-pipe.txt").symlink_to(root / "pipe")
    (root / "self-loop.txt").symlink_to(root / "self-loop.txt")
    (root / "loop-a.txt").symlink_to(root / "loop-b.txt")
    (root / "loop-b.txt").symlink_to(root / "loop-a.txt")
    (root / "dangling.png").symlink_to(root / "missing-target.png")
    (root / "to-devnull.txt").symlink_to("/dev/null")
    (root / "to-dir").symlink_to(root / "sub")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()  # the socket file stays
    return {
        "pipe": "fifo",
        "to-pipe.txt": "symlink to a fifo",
        "self-loop.txt": "symlink loop",
        "loop-a.txt": "symlink loop",
        "loop-b.txt": "symlink loop",
        "dangling.png": "not found",
        "to-devnull.txt": "character device",
        "to-dir": "symlink to a directory",
        "sock": "socket",
    }


@pytest.fixture
def odd_folder(tmp_path):
    root = tmp_path / "media"
    (root / "sub").mkdir(parents=True)
    (root / "a-notes.md").write_text("First passage about cats.\n\nSecond passage about rockets.\n")
    (root / "sub" / "deep.txt").write_text("a note in a sub folder\n")
    _png(root / "z-image.png")  # sorted after every odd entry: it must still be indexed
    return root, _odd_entries(root)


def test_scan_classifies_every_entry_and_opens_none(odd_folder, monkeypatch):
    from omniret.index.files import scan

    root, expected = odd_folder
    (root / "locked.txt").write_text("secret")
    (root / "locked.txt").chmod(0)
    (root / "closed").mkdir()
    (root / "closed" / "inside.txt").write_text("hidden by permissions")
    (root / "closed").chmod(0)
    if os.geteuid() == 0:  # root reads everything: simulate what an ordinary user gets
        real_access, real_scandir = os.access, os.scandir
        monkeypatch.setattr(
            os, "access", lambda p, m, **k: not str(p).endswith("locked.txt") and real_access(p, m, **k)
        )

        def scandir(p):
            if str(p).endswith("closed"):
                raise PermissionError(13, "Permission denied", str(p))
            return real_scandir(p)

        monkeypatch.setattr(os, "scandir", scandir)
    opened = []

    def spy(real):
        def opener(f, *a, **k):
            if str(root) in os.fsdecode(f) if isinstance(f, (str, bytes, os.PathLike)) else False:
                opened.append(f)
            return real(f, *a, **k)

        return opener

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    monkeypatch.setattr(os, "open", spy(os.open))
    try:
        found = guarded(lambda: scan([root, root / "no-such-folder"]), fifos=[root / "pipe"])
    finally:
        (root / "closed").chmod(0o755)
    assert not opened  # classification is lstat/stat only
    reasons = {Path(p).name: r for p, r in found.skipped}
    for name, words in {**expected, "locked.txt": "permission denied", "closed": "permission denied",
                        "no-such-folder": "not found"}.items():  # fmt: skip
        assert words in reasons[name].lower(), (name, reasons.get(name))
    assert [f.name for f in found.files] == ["a-notes.md", "deep.txt", "z-image.png"]
    assert found.roots == {str(root): 3, str(root / "no-such-folder"): -1}


def test_index_cli_skips_odd_entries_with_reasons_and_indexes_the_rest(odd_folder, tmp_path, ckpt):
    from typer.testing import CliRunner

    from omniret.cli.main import app

    root, expected = odd_folder
    os.symlink(b"nowhere", os.path.join(os.fsencode(root), b"gone-\xff.txt"))  # odd name, reported
    (root / "a-notes.md.json").write_bytes(b'{"album": "\xff"}')  # unusable sidecar: a warning only
    args = ["index", str(root), "--db", str(tmp_path / "db"), "--model", str(ckpt), "--quiet"]
    result = guarded(lambda: CliRunner().invoke(app, args), fifos=[root / "pipe"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, words in expected.items():
        line = next((x for x in lines if x.startswith(f"skipped {root / name}: ")), None)
        assert line is not None and words in line.lower(), (name, line)
    assert any(x.startswith(f"skipped {root}/gone-\\xff.txt: dangling symlink") for x in lines)
    assert "warning: metadata sidecar" in result.output and "Traceback" not in result.output
    ix = Index(tmp_path / "db", model="unused")
    t = ix.store.table().to_arrow()
    uris = {Path(u).name for u in t["uri"].to_pylist()}
    assert uris == {"a-notes.md", "deep.txt", "z-image.png"}
    again = guarded(lambda: CliRunner().invoke(app, args), fifos=[root / "pipe"])
    assert again.exit_code == 0 and "added 0, replaced 0, unchanged 3" in again.output


def test_a_fifo_swapped_in_after_the_scan_is_refused_not_opened(tmp_path):
    from omniret.inputs.media import MediaError
    from omniret.inputs.media.source import file_digest

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.txt").symlink_to(tmp_path / "pipe")
    for name in ("pipe", "link.txt"):
        with pytest.raises(MediaError, match="not a regular file"):
            guarded(lambda n=name: file_digest(tmp_path / n), fifos=[tmp_path / "pipe"], timeout=10)


def test_decode_text_utf16_slightly_bad_utf8_and_junk():
    from omniret.inputs.media.source import decode_text, sniff

    words = "Notes about the harbour, ümlauts and 😀.\n" * 20
    assert decode_text(words.encode("utf-16")) == words
    assert decode_text(b"\xfe\xff" + words.encode("utf-16-be")) == words
    assert decode_text(words.encode("utf-8-sig")) == words
    bad = bytearray(words.encode())
    bad[10], bad[300] = 0xFF, 0x80  # two stray bytes in ~900
    assert decode_text(bytes(bad)).count("\ufffd") == 2
    assert sniff(bytes(bad)) == "text" and sniff(words.encode("utf-16")[:4095]) == "text"
    rng = np.random.default_rng(0)
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert sniff(junk) is None and sniff(b"\xff\xfe" + junk) is None and sniff(b"\xef\xbb\xbf" + junk) is None
    assert decode_text(junk) is None
    lots = bytearray(words.encode())
    lots[::40] = b"\xff" * len(lots[::40])  # 2.5 % bad bytes: not "a few"
    assert decode_text(bytes(lots)) is None
    for text in ("BMW and Audi, a comparison\n", "ID3 tags explained\n", "FORMAT: plain text\n"):
        assert sniff(text.encode()) == "text"  # magic-number look-alikes are not media


def test_utf16_and_slightly_invalid_utf8_files_are_indexed_as_text_and_junk_is_refused(tmp_path, model):
    root = tmp_path / "media"
    root.mkdir()
    body = "Harbour notes.\r\n\r\nThe ferry leaves at noon.\r\n"
    (root / "le.txt").write_bytes(body.encode("utf-16"))
    (root / "be.md").write_bytes(b"\xfe\xff" + body.encode("utf-16-be"))
    note = b"Cafe notes about lighthouses and ships."  # short: the tiny model has 128 positions
    (root / "bad-bytes.txt").write_bytes(note[:4] + b"\xe9" + note[4:20] + b"\xff" + note[20:])
    (root / "bmw.txt").write_text("BMW and Audi, a comparison of lighthouses\n")
    rng = np.random.default_rng(1)
    (root / "junk.txt").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    (root / "junk").write_bytes(b"\xff\xfe" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    report = guarded(lambda: Index(tmp_path / "db", model=model).add([root]))
    reasons = {Path(f).name: r for f, r in report.skipped}
    assert set(reasons) == {"junk.txt", "junk"} and all("not an image" in r for r in reasons.values())
    rows = rows_by_key(Index(tmp_path / "db", model=model))
    texts = {Path(u).name: r["text"] for (u, _), r in rows.items()}
    assert {Path(u).name: r["modality"] for (u, _), r in rows.items()} == dict.fromkeys(texts, "text")
    assert set(texts) == {"le.txt", "be.md", "bad-bytes.txt", "bmw.txt"}
    assert texts["le.txt"] == texts["be.md"] == "Harbour notes.\n\nThe ferry leaves at noon."
    assert texts["bad-bytes.txt"] == "Cafe\ufffd notes about lig\ufffdhthouses and ships."
