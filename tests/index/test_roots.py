"""Issue 17: the indexed roots are a security boundary. Links that lead outside them are skipped and
reported, never read; `--follow-links` walks linked folders inside them; `--allow-outside-roots` is
an explicit, recorded opt-in; every read re-checks, so a file swapped for a link later is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omniret.api import load_model
from omniret.cli.main import app
from omniret.errors import InputError
from omniret.index import Index
from omniret.index.files import scan
from omniret.index.roots import Boundary, OutsideRootsError

pytest.importorskip("lancedb")

SECRET = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def layout(tmp_path):
    """media/ (the root) and, beside it, secret/ standing in for /etc: a file no root covers."""
    root, secret = tmp_path / "media", tmp_path / "secret"
    (root / "sub").mkdir(parents=True)
    secret.mkdir()
    (secret / "passwd").write_text(SECRET)
    (secret / "dir").mkdir()
    (secret / "dir" / "inner.txt").write_text("a note from outside the root\n")
    (root / "real.txt").write_text("A real note about espresso.\n")
    (root / "sub" / "deep.txt").write_text("A note about tea in a sub folder.\n")
    return root, secret


def _stored(db: Path) -> dict[str, str]:
    t = Index(db, model="unused").store.table().to_arrow()
    return dict(zip(t["uri"].to_pylist(), t["text"].to_pylist(), strict=True))


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_passwd_reproduction_is_skipped_and_nothing_of_it_is_stored(layout, tmp_path, ckpt):
    root, secret = layout
    (root / "notes.txt").symlink_to(secret / "passwd")  # the reproduction, /etc/passwd in a tmp dir
    (root / "rel.txt").symlink_to(Path("..") / "secret" / "passwd")  # a relative ../ link
    (root / "sub" / "up.txt").symlink_to(Path("..") / ".." / "secret" / "passwd")
    (root / "outdir").symlink_to(secret / "dir")  # a link to a directory outside
    (root / "notes.txt.json").symlink_to(secret / "passwd")  # a metadata sidecar leading outside
    db = tmp_path / "db"
    out = _cli("index", root, "--db", db, "--model", ckpt, "--quiet")
    assert out.exit_code == 0, out.output
    for name in ("notes.txt", "rel.txt", "sub/up.txt", "outdir"):
        line = next(x for x in out.output.splitlines() if x.startswith(f"skipped {root / name}: "))
        assert "points outside the indexed roots" in line and str(secret) in line, line
    stored = _stored(db)
    assert set(stored) == {str(root / "real.txt"), str(root / "sub" / "deep.txt")}
    assert not any("root:x:0" in (t or "") for t in stored.values())
    hits = Index(db, model=load_model(ckpt, cache=False)).search("root bash daemon", k=10).hits
    assert hits and not any("root:x:0" in (h.text or "") or str(secret) in h.uri for h in hits)
    stats = json.loads(_cli("stats", "--db", db).output)
    assert stats["access"] == {"roots": [str(root)], "follow_links": False, "allow_outside_roots": False}
    assert stats["stored_copies"]["text_passages"] == 2 and stats["stored_copies"]["keyframes"] == 0


def test_links_inside_the_root_still_work_and_linked_folders_need_follow_links(layout, tmp_path, model):
    root, _ = layout
    (root / "alias.txt").symlink_to(root / "real.txt")  # inside: indexed as its target, as before
    (root / "sub2").symlink_to(root / "sub")  # a linked folder inside the root
    (root / "loop").symlink_to(root)  # a link back to the root itself: walked once at most
    found = scan([root])
    assert [f.name for f in found.files] == ["real.txt", "deep.txt"]  # alias.txt is real.txt itself
    assert "--follow-links" in dict(found.skipped)[str(root / "sub2")]
    followed = scan([root], boundary=Boundary.of([root], follow_links=True))
    assert sorted(f.name for f in followed.files) == ["deep.txt", "real.txt"]  # each real file once
    assert not [r for p, r in followed.skipped if "outside" in r]
    ix = Index(tmp_path / "db", model=model)
    report = ix.add([root], follow_links=True)
    assert sorted(Path(u).name for u in report.added) == ["deep.txt", "real.txt"]
    assert ix.store.sidecar()["access"]["follow_links"] is True


def test_allow_outside_roots_needs_follow_links_and_is_recorded(layout, tmp_path, model, ckpt):
    root, secret = layout
    (root / "outdir").symlink_to(secret / "dir")
    refused = _cli("index", root, "--db", tmp_path / "db0", "--model", ckpt, "--allow-outside-roots")
    assert refused.exit_code == 2 and "--allow-outside-roots only widens --follow-links" in refused.output
    assert not (tmp_path / "db0").exists()
    with pytest.raises(InputError, match="give both"):
        Boundary.of([root], allow_outside=True)
    ix = Index(tmp_path / "db", model=model)
    report = ix.add([root], follow_links=True, allow_outside_roots=True)
    assert str(secret / "dir" / "inner.txt") in report.added  # the explicit opt-in reads it
    stats = json.loads(_cli("stats", "--db", tmp_path / "db").output)
    assert stats["access"]["allow_outside_roots"] is True and stats["access"]["follow_links"] is True
    ix.add([root])  # a later default run does not hide that outside content may be stored
    assert ix.store.sidecar()["access"]["allow_outside_roots"] is True


def test_a_file_swapped_for_a_link_after_indexing_is_refused_at_re_index_and_pruned(layout, tmp_path, model):
    root, secret = layout
    ix = Index(tmp_path / "db", model=model)
    ix.add([root])
    victim = root / "real.txt"
    victim.unlink()
    victim.symlink_to(secret / "passwd")
    again = ix.add([root])
    assert "points outside the indexed roots" in dict(again.skipped)[str(victim)]
    assert not any("root:x:0" in (t or "") for t in _stored(tmp_path / "db").values())
    pruned = ix.add([root], prune=True)  # its rows held the old content; the path is no entry any more
    assert pruned.pruned == [str(victim)] and set(_stored(tmp_path / "db")) == {
        str(root / "sub" / "deep.txt")
    }


def test_a_file_swapped_between_the_scan_and_the_read_is_refused(layout, tmp_path, model, monkeypatch):
    """The race the scan alone cannot see: the check runs again right before the file is opened, and
    the opened descriptor itself is checked."""
    import omniret.index.prune as prune

    root, secret = layout
    real_scan = prune.scan

    def scan_then_swap(*a, **k):
        found = real_scan(*a, **k)
        _swap_for_secret(root, secret)
        return found

    monkeypatch.setattr(prune, "scan", scan_then_swap)  # the indexer finds files through prune.find
    _assert_swapped_file_refused(Index(tmp_path / "db", model=model).add([root]), root, tmp_path / "db")


def _swap_for_secret(root: Path, secret: Path) -> None:
    if not (root / "real.txt").is_symlink():
        (root / "real.txt").unlink()
        (root / "real.txt").symlink_to(secret / "passwd")


def _assert_swapped_file_refused(report, root: Path, db: Path) -> None:
    assert "points outside the indexed roots" in dict(report.skipped)[str(root / "real.txt")]
    assert set(_stored(db)) == {str(root / "sub" / "deep.txt")}


def test_the_descriptor_check_catches_a_folder_swapped_on_the_way(layout, tmp_path):
    """A path check passes, then a folder on the way becomes a link: the opened file is outside."""
    root, secret = layout
    boundary = Boundary.of([root])
    boundary.check(root / "sub" / "deep.txt")
    fd = os.open(secret / "passwd", os.O_RDONLY)
    try:
        with pytest.raises(OutsideRootsError, match="points outside the indexed roots"):
            boundary.check_fd(fd, root / "sub" / "deep.txt")
    finally:
        os.close(fd)
    assert Boundary.of([root]).contains(str(root)) and not Boundary.of([root]).contains(str(root) + "2")


def _db_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.rglob("*") if p.is_file())


def test_delete_and_prune_leave_no_copy_on_disk_not_even_in_old_table_versions(layout, tmp_path, model):
    root, _ = layout
    (root / "gone.txt").write_text("A note about a quokka on an island.\n")
    ix = Index(tmp_path / "db", model=model)
    ix.add([root])
    assert b"quokka" in _db_bytes(tmp_path / "db")
    (root / "gone.txt").unlink()
    assert ix.add([root], prune=True).pruned == [str(root / "gone.txt")]
    assert b"quokka" not in _db_bytes(tmp_path / "db")  # LanceDB kept it in older versions before
    assert ix.delete(uri=str(root / "real.txt")) == 1 and b"espresso" not in _db_bytes(tmp_path / "db")


def test_a_file_swapped_while_it_is_decoded_is_not_stored(layout, tmp_path, model, monkeypatch):
    """Media are decoded lazily inside encode; the file is checked again after it (same device, inode,
    size and mtime as when it was hashed) and dropped when it was replaced meanwhile."""
    root, secret = layout
    real_encode = model.encode

    def encode_then_swap(inputs, **kw):
        out = real_encode(inputs, **kw)
        _swap_for_secret(root, secret)
        return out

    monkeypatch.setattr(model, "encode", encode_then_swap)
    _assert_swapped_file_refused(Index(tmp_path / "db", model=model).add([root]), root, tmp_path / "db")


def test_a_linked_path_argument_is_said_and_a_file_roots_own_sidecar_is_used(layout, tmp_path, model):
    root, _ = layout
    (root / "real.txt.json").write_text('{"album": "beside"}')
    (tmp_path / "alias").symlink_to(root)
    report = Index(tmp_path / "db", model=model).add([tmp_path / "alias", root / "real.txt"])
    warned = dict(report.warnings)
    assert (
        "leads through a symlink to" in warned[str(tmp_path / "alias")]
        and str(root) in warned[str(tmp_path / "alias")]
    )
    t = Index(tmp_path / "db", model="unused").store.table().to_arrow()
    metas = dict(zip(t["uri"].to_pylist(), t["meta"].to_pylist(), strict=True))
    assert json.loads(metas[str(root / "real.txt")]) == {"album": "beside"}  # a sibling file, not a link
