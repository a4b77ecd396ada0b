"""Issue 12: ``--prune`` is safe by construction.

A root that does not exist or holds no indexable file is refused (exit 2, one line, nothing deleted);
``--dry-run`` says what would go without touching the index; rows of files that still exist are never
deleted, whatever the scan could or could not see.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.errors import InputError
from omniret.index import Index
from tests.conftest import guarded

pytest.importorskip("lancedb")


pytestmark = pytest.mark.usefixtures("isolated_cache")


def cli(*args, fifos=()):
    return guarded(lambda: CliRunner().invoke(app, [str(a) for a in args]), fifos=fifos)


def notes(root: Path, *names: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).write_text(f"A short note called {name}.\n")
    return root


def uris(db: Path) -> list[str]:
    table = Index(db, model="unused").store.table()
    return sorted(table.to_arrow()["uri"].to_pylist())


@pytest.fixture
def indexed(tmp_path, model):
    """An index of two folders with three notes each; returns (db, photos, photos2)."""
    photos = notes(tmp_path / "photos", "a.txt", "b.txt", "c.txt")
    photos2 = notes(tmp_path / "photos2", "d.txt", "e.txt", "f.txt")  # shares a prefix with photos
    db = tmp_path / "db"
    report = Index(db, model=model).add([photos, photos2])
    assert len(report.added) == 6 and not report.skipped
    return db, photos, photos2


def _one_error_line(result) -> str:
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("omniret: error: refusing to prune"), result.output
    return lines[0]


def test_prune_of_a_missing_root_is_refused_and_deletes_nothing(indexed, tmp_path, ckpt, model):
    db, photos, _ = indexed
    before = uris(db)
    version = Index(db, model="unused").store.table().version
    for args in ([tmp_path / "photoz", "--prune"], [tmp_path / "photoz", "--prune", "--dry-run"]):
        result = cli("index", *args, "--db", db, "--model", ckpt, "--quiet")
        assert result.exit_code == 2
        assert "photoz does not exist" in _one_error_line(result)
    photos.rename(tmp_path / "moved")  # a moved root: every row under it would otherwise go
    result = cli("index", photos, "--prune", "--db", db, "--model", ckpt, "--quiet")
    assert result.exit_code == 2 and "does not exist" in _one_error_line(result)
    with pytest.raises(InputError, match="refusing to prune"):
        Index(db, model=model).add([photos], prune=True)
    assert uris(db) == before and Index(db, model="unused").store.table().version == version


def test_prune_of_a_root_without_indexable_files_is_refused(indexed, tmp_path, ckpt):
    db, photos, _ = indexed
    before = uris(db)
    for f in photos.iterdir():
        f.unlink()
    os.mkfifo(photos / "pipe")  # not a file, never opened
    (photos / ".hidden.txt").write_text("hidden files are not indexed")
    (photos / "a.txt.json").write_text("{}")  # a sidecar alone is no content
    result = cli("index", photos, "--prune", "--db", db, "--model", ckpt, "--quiet", fifos=[photos / "pipe"])
    assert result.exit_code == 2
    assert "holds no file that can be indexed" in _one_error_line(result)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("index", empty, "--prune", "--db", db, "--model", ckpt, "--quiet")
    assert result.exit_code == 2 and "holds no file" in _one_error_line(result)
    assert uris(db) == before


def test_dry_run_lists_what_prune_would_delete_and_changes_nothing(indexed, tmp_path, ckpt):
    db, photos, _ = indexed
    (photos / "b.txt").unlink()
    (photos / "new.txt").write_text("A note that was never indexed.\n")
    before, version = uris(db), Index(db, model="unused").store.table().version
    result = cli("index", photos, "--prune", "--dry-run", "--db", db)  # no --model: none is loaded
    assert result.exit_code == 0, result.output
    assert "--prune would delete 1 rows of 1 files" in result.output
    assert f"would prune {photos / 'b.txt'} (1 rows)" in result.output
    assert "photos2" not in result.output  # a sibling folder with the same prefix is not under the root
    assert uris(db) == before and Index(db, model="unused").store.table().version == version  # no write
    assert str(photos / "new.txt") not in before and str(photos / "new.txt") not in uris(db)  # not indexed
    result = cli("index", photos, "--dry-run", "--db", db)
    assert result.exit_code == 2 and "--dry-run previews what --prune would delete" in result.output
    missing_db = tmp_path / "no-db"
    result = cli("index", photos, "--prune", "--dry-run", "--db", missing_db)
    assert result.exit_code == 0 and "would delete 0 rows of 0 files" in result.output
    assert not missing_db.exists()  # a dry run creates nothing
    result = cli("index", photos, "--prune", "--db", db, "--model", ckpt, "--quiet")
    assert result.exit_code == 0 and "pruned 1 files (1 rows)" in result.output, result.output
    assert uris(db) == sorted([*(u for u in before if not u.endswith("b.txt")), str(photos / "new.txt")])


def test_prune_never_deletes_rows_of_files_that_still_exist(indexed, tmp_path, model, monkeypatch):
    db, photos, photos2 = indexed
    sub = notes(photos / "sub", "g.txt")
    (photos / ".private").mkdir()
    hidden = notes(photos / ".private", "h.txt") / "h.txt"
    ix = Index(db, model=model)
    ix.add([sub, hidden])  # a hidden file indexed by name: a folder scan never lists it
    before = uris(db)
    assert len(before) == 8
    (photos / "a.txt").unlink()  # the only file under the root that is really gone
    (photos2 / "d.txt").unlink()  # gone too, but not under the root: photos2 only shares its prefix
    os.mkfifo(photos / "pipe")
    real_scandir, real_access = os.scandir, os.access

    def scandir(p):  # a sub folder that cannot be listed any more (e.g. its permissions changed)
        if os.fspath(p) == str(sub):
            raise PermissionError(13, "Permission denied", str(p))
        return real_scandir(p)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(  # ... and a file that cannot be read now
        os, "access", lambda p, m, **k: not os.fspath(p).endswith("c.txt") and real_access(p, m, **k)
    )
    report = guarded(lambda: ix.add([photos], prune=True), fifos=[photos / "pipe"])
    assert report.pruned == [str(photos / "a.txt")] and report.pruned_rows == 1
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert "permission denied" in reasons["sub"] and "permission denied" in reasons["c.txt"]
    assert "fifo" in reasons["pipe"].lower()
    assert uris(db) == [u for u in before if not u.endswith("/a.txt")]  # photos2, sub, c.txt, hidden kept
    assert str(photos2 / "d.txt") in uris(db)
