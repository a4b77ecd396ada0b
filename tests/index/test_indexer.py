"""``index/indexer.py``: incremental, crash-safe ingestion. Unchanged files are skipped, changed ones
replaced, bad ones reported while the rest is indexed, a killed run finishes on re-run, a file is known
by the exact bytes of its path, and ``--prune`` deletes only rows of files that are gone."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.errors import InputError
from omniret.index import Index
from omniret.index.files import Scan
from omniret.index.indexer import commit_batches
from omniret.index.paths import asset_id
from omniret.index.prune import Known, PrunePreview, check_prune_roots, prune_candidates
from omniret.index.roots import Boundary
from tests.conftest import guarded
from tests.helpers.media import png_bytes
from tests.index.conftest import ODD, index, rows, rows_by_key

pytest.importorskip("lancedb")


def test_incremental_reindex_change_and_prune(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder])
    version = ix.store.table().version
    again = ix.add([folder])
    assert again.rows_written == 0 and again.unchanged == 8 and ix.store.table().version == version
    before = {r[:2]: r[2] for r in rows(ix)}
    Image.new("RGB", (24, 24), (9, 9, 9)).save(folder / "img2.png")
    changed = ix.add([folder])
    assert changed.replaced == [str((folder / "img2.png").resolve())]
    after = {r[:2]: r[2] for r in rows(ix)}
    key = (str((folder / "img2.png").resolve()), "image")
    assert after[key] != before[key] and len(after) == len(before)  # old row gone, one new row
    (folder / "img3.png").unlink()
    pruned = ix.add([folder], prune=True)
    assert pruned.pruned == [str((folder / "img3.png").resolve())] and len(rows(ix)) == len(before) - 1


def test_bad_files_are_reported_and_the_rest_indexed(folder, tmp_path, ckpt):
    good = png_bytes(Image.new("RGB", (40, 40), (1, 2, 3)))
    (folder / "zero.png").write_bytes(b"")
    (folder / "cut.png").write_bytes(good[: len(good) // 2])
    (folder / "bad.mp3").write_bytes(b"\xff\xfb" + os.urandom(600))
    (folder / "sound.jpg").write_bytes(
        (folder / "short.flac").read_bytes()
    )  # wrong extension: indexed by content
    (folder / "gone.png").symlink_to(folder / "missing-target.png")  # unreadable
    (folder / "big.wav").write_bytes((folder / "tone.wav").read_bytes())
    ix = index(tmp_path / "db", ckpt)
    report = ix.add([folder], max_file_bytes=200_000)
    reasons = {Path(f).name: r for f, r in report.skipped}
    assert set(reasons) == {"zero.png", "cut.png", "bad.mp3", "gone.png", "big.wav", "tone.wav"}
    assert (
        "empty" in reasons["zero.png"]
        and "truncated" in reasons["cut.png"]
        and "not found" in reasons["gone.png"]
    )
    assert "byte limit" in reasons["big.wav"]
    by_uri = {
        Path(u).name: m
        for u, m in zip(
            *(ix.store.table().to_arrow()[c].to_pylist() for c in ("uri", "modality")), strict=True
        )
    }
    assert by_uri["sound.jpg"] == "audio" and by_uri["img1.png"] == "image"


def test_sigkill_mid_ingest_then_rerun_equals_an_uninterrupted_run(folder, tmp_path, ckpt):
    cmd = [sys.executable, "-m", "omniret.cli.main", "index", str(folder), "--model", str(ckpt), "--batch-files", "1",
           "--quiet"]  # fmt: skip
    env = {**os.environ, "OMNIRET_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [*cmd, "--db", str(tmp_path / "killed")], stdout=subprocess.PIPE, text=True, env=env
    )
    commits = 0
    for line in proc.stdout:
        commits += line.startswith("committed")
        if commits == 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    subprocess.run([*cmd, "--db", str(tmp_path / "killed")], check=True, env=env, capture_output=True)
    subprocess.run([*cmd, "--db", str(tmp_path / "clean")], check=True, env=env, capture_output=True)
    killed, clean = rows(Index(tmp_path / "killed", model="x")), rows(Index(tmp_path / "clean", model="x"))
    assert [r[:2] for r in killed] == [r[:2] for r in clean] and len(clean) == 10
    np.testing.assert_allclose([r[2] for r in killed], [r[2] for r in clean], atol=1e-6)


def test_commit_batches_bound_files_and_media_seconds():
    todo = [(f"f{i}", "", "audio", s) for i, s in enumerate([1, 1, 1, 1, 1, 2000, 1, 1, 1])]
    sizes = [[t[3] for t in b] for b in commit_batches(todo, 2, 1800)]
    assert sizes == [[1, 1], [1, 1], [1], [2000], [1, 1], [1]]  # the 2000 s file commits alone
    assert [t for b in commit_batches(todo, 2, 1800) for t in b] == todo  # nothing lost or reordered


def test_video_moments_store_their_keyframe(folder, tmp_path, ckpt):
    import io

    ix = index(tmp_path / "db", ckpt)
    ix.add([folder])
    hits = ix.search("x", k=20).hits
    video = [h for h in hits if h.modality == "video"]
    assert video and all(h.keyframe is None for h in hits if h.modality != "video")
    img = Image.open(io.BytesIO(video[0].keyframe))
    assert img.format == "JPEG" and max(img.size) <= 160
    r, g, _ = img.convert("RGB").getpixel((img.width // 2, img.height // 2))
    assert g > 200 and r < 60  # the clip is red for 1 s then green: its middle (1.0 s) is green
    assert json.loads(json.dumps(video[0].as_dict()))["keyframe"].startswith("data:image/jpeg;base64,")


@pytest.mark.usefixtures("isolated_cache")
def test_a_name_that_is_not_utf8_is_indexed_stable_and_pruned_only_when_gone(tmp_path, model):
    root = tmp_path / "media"
    root.mkdir()
    odd = os.path.join(os.fsencode(root), ODD)
    with open(odd, "wb") as f:
        f.write(b"A note with an odd file name about espresso.\n")
    (root / "plain.txt").write_text("A plain note about tea.\n")
    ix = Index(tmp_path / "db", model=model)
    first = guarded(lambda: ix.add([root]))
    assert not first.skipped and len(first.added) == 2
    shown = f"{root}/caf\\xe9.txt"  # valid UTF-8: the bad byte written as \xe9
    assert shown in first.added
    rows = rows_by_key(ix)
    row = rows[(shown, "p0")]
    assert row["path_bytes"] == odd and row["modality"] == "text" and "espresso" in row["text"]
    assert row["uri"].encode("utf-8") and row["asset_id"] == asset_id(odd)
    assert rows[(f"{root}/plain.txt", "p0")]["asset_id"] == asset_id(f"{root}/plain.txt")  # unchanged ids
    version = ix.store.table().version
    again = guarded(lambda: ix.add([root], prune=True))
    assert (again.unchanged, again.rows_written, again.pruned) == (2, 0, [])
    assert ix.store.table().version == version and len(rows_by_key(ix)) == 2
    assert [h.uri for h in ix.search("espresso", k=2).hits if "caf" in h.uri] == [shown]
    os.unlink(odd)
    gone = guarded(lambda: ix.add([root], prune=True))
    assert gone.pruned == [shown] and gone.pruned_rows == 1
    assert set(rows_by_key(ix)) == {(f"{root}/plain.txt", "p0")}


# ------------------------------------------------------------------ pure parts, no model


def test_asset_id_is_the_sha256_of_the_exact_path_bytes():
    """16 hex digits of sha256(path bytes): a str and its UTF-8 bytes name the same file."""
    assert asset_id("/media/a.txt") == hashlib.sha256(b"/media/a.txt").hexdigest()[:16]
    assert asset_id(b"/media/a.txt") == asset_id(Path("/media/a.txt")) == asset_id("/media/a.txt")
    assert asset_id(b"/media/" + ODD) == hashlib.sha256(b"/media/caf\xe9.txt").hexdigest()[:16]
    assert asset_id(os.fsdecode(b"/media/" + ODD)) == asset_id(b"/media/" + ODD)  # surrogate-escaped str


def test_check_prune_roots_refuses_a_missing_or_empty_root():
    check_prune_roots(Scan(roots={"/photos": 3}))  # a root with files: nothing to refuse
    with pytest.raises(InputError, match=r"refusing to prune: /gone does not exist.*nothing was deleted"):
        check_prune_roots(Scan(roots={"/photos": 3, "/gone": -1}))
    with pytest.raises(InputError, match="refusing to prune: /empty holds no file that can be indexed"):
        check_prune_roots(Scan(roots={"/empty": 0}))


def test_prune_candidates_are_files_gone_from_under_a_root_by_whole_components(tmp_path):
    """Of four known rows, only the vanished file under ``photos`` is a candidate: not the one still
    present, not the vanished one in ``photos2`` (which merely shares the prefix), not one found."""
    photos, photos2 = tmp_path / "photos", tmp_path / "photos2"
    photos.mkdir()
    photos2.mkdir()
    (photos / "kept.txt").write_text("still here")
    (photos / "found.txt").write_text("found by the scan")

    def known(path: Path) -> tuple[str, Known]:
        return asset_id(path), Known(str(path), "h", os.fsencode(path), 1)

    rows = dict(known(p) for p in (photos / "gone.txt", photos / "kept.txt", photos2 / "gone.txt",
                                   photos / "found.txt"))  # fmt: skip
    boundary = Boundary.of([photos])
    got = prune_candidates(rows, [photos / "found.txt"], [photos], boundary)
    assert got == [asset_id(photos / "gone.txt")]


def test_prune_preview_rows_add_up():
    assert PrunePreview([("a", 3), ("b", 1)], []).rows == 4 and PrunePreview([], []).rows == 0
