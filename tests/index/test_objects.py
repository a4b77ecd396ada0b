"""Object-store inputs (``omniret index s3://bucket/prefix``) against a real S3 endpoint on localhost:
the same rows as the same folder on disk under the objects' URIs, change detection by ETag, prune by
listing, bad objects reported by URI, and nothing left behind in the staging folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.errors import InputError
from omniret.index import Index
from omniret.index.objects import (
    ObjectFile,
    Source,
    is_uri,
    local_roots,
    prune_candidates,
    split_roots,
    stage_boundary,
)
from omniret.index.paths import asset_id
from omniret.index.prune import Known
from omniret.index.store import Store
from tests.helpers.s3 import s3_server

pytest.importorskip("obstore")
pytest.importorskip("lancedb")
pytestmark = pytest.mark.usefixtures("isolated_cache", "own_tmpdir")


@pytest.fixture
def own_tmpdir(tmp_path, monkeypatch):
    """Downloads stage under this test's own temporary folder: what another job left in the machine's
    staging folder cannot make "nothing left behind" fail, and this test leaves nothing there."""
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


FIELDS = ("segment_id", "modality", "t0", "t1", "text", "page", "meta", "speech")


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


def by_name(db, root: str) -> dict:
    """(name below the root, segment id) -> row, for comparing a bucket's index with a folder's."""
    t = Store(db).table().to_arrow().to_pylist()
    return {(r["uri"][len(root) + 1 :], r["segment_id"]): r for r in t}


def staged() -> list[Path]:
    return [p for p in Path(stage_boundary().roots[0]).rglob("*") if p.is_file()]


def test_uris_are_told_from_paths_and_never_mixed_with_them():
    assert is_uri("s3://b/x") and is_uri("gs://b") and not is_uri("/data/x") and not is_uri("file:///data")
    assert local_roots(["file:///data/my%20photos", "s3://b/x", "rel"]) == [
        "/data/my photos",
        "s3://b/x",
        "rel",
    ]
    assert split_roots(["s3://b/x", "gs://c"]) and not split_roots(["/data", "rel"])
    with pytest.raises(InputError, match="either local paths or object-store URIs"):
        split_roots(["s3://b/x", "/data"])
    with pytest.raises(InputError, match="ftp://h/x: unsupported URI scheme"):
        split_roots(["ftp://h/x"])


def test_an_object_is_named_and_identified_by_its_uri():
    obj = ObjectFile("s3://b/photos/cat.jpg", 10, '"e1"')
    assert os.fspath(obj) == "s3://b/photos/cat.jpg" and (obj.name, obj.suffix) == ("cat.jpg", ".jpg")
    assert asset_id(obj) == asset_id("s3://b/photos/cat.jpg")
    # the content hash follows the ETag and the subtitle files, not a metadata sidecar
    assert obj.content_hash() != ObjectFile(obj.uri, 10, '"e2"').content_hash()
    subs = ObjectFile(obj.uri, 10, '"e1"', (("s3://b/photos/cat.srt", '"s1"'),))
    assert subs.content_hash() != obj.content_hash()
    assert (
        subs.content_hash()
        != ObjectFile(obj.uri, 10, '"e1"', (("s3://b/photos/cat.srt", '"s2"'),)).content_hash()
    )
    meta = ObjectFile(obj.uri, 10, '"e1"', (("s3://b/photos/cat.jpg.json", '"m"'),))
    assert meta.content_hash() == obj.content_hash()


def test_prune_candidates_are_rows_under_a_root_by_whole_components_that_the_listing_lacks():
    def known(uri):
        return asset_id(uri), Known(uri, "h", uri.encode(), 1)

    rows = dict(known(u) for u in ("s3://b/photos/kept.jpg", "s3://b/photos/gone.jpg", "s3://b/photos2/x.jpg",
                                   "s3://c/photos/y.jpg"))  # fmt: skip
    listed = [ObjectFile("s3://b/photos/kept.jpg")]
    assert prune_candidates(rows, listed, ["s3://b/photos/"]) == [asset_id("s3://b/photos/gone.jpg")]


def test_listing_leaves_out_hidden_objects_and_sidecars_and_reports_oversized_ones(s3):
    b = s3.bucket("listing")
    for key, data in {"a/cat.jpg": b"x" * 10, "a/cat.jpg.json": b"{}", "a/cat.srt": b"1", "a/.hidden.png": b"x",
                      "a/.cache/y.png": b"x", "a/sub/big.mp4": b"x" * 100, "ab/other.png": b"x"}.items():  # fmt: skip
        s3.put(b, key, data)
    found = Source(s3.options).listing([f"s3://{b}/a"], max_bytes=50)
    assert [f.uri for f in found.files] == [f"s3://{b}/a/cat.jpg"]  # not ab/, not hidden, not sidecars
    assert [s[0] for s in found.files[0].siblings] == [f"s3://{b}/a/cat.jpg.json", f"s3://{b}/a/cat.srt"]
    assert found.skipped == [(f"s3://{b}/a/sub/big.mp4", "larger than 0.0 GiB: not indexed")]
    assert found.roots == {f"s3://{b}/a": 1}
    one = Source(s3.options).listing([f"s3://{b}/a/cat.jpg"], max_bytes=50)  # a root naming one object
    assert [(f.uri, len(f.siblings)) for f in one.files] == [(f"s3://{b}/a/cat.jpg", 2)]
    assert Source(s3.options).listing([f"s3://{b}/a/ca"], max_bytes=50).roots == {f"s3://{b}/a/ca": 0}


def test_an_unreachable_bucket_or_a_bad_option_is_an_error_naming_it(s3):
    with pytest.raises(InputError, match=r"s3://no-such-bucket/x: cannot list the objects"):
        Source(s3.options).listing(["s3://no-such-bucket/x"], max_bytes=10)
    with pytest.raises(InputError, match=r"s3://b/x: cannot open the object store \(.*'colour'"):
        Source({**s3.options, "colour": "red"}).store("s3://b/x")


def test_any_key_is_read_back_whole_and_folder_markers_are_not_files(s3, tmp_path):
    b = s3.bucket("odd-keys")
    s3.put(b, "m/a b#1?x=é.txt", b"odd name")  # '#' and '?' would cut a parsed URL
    s3.put(b, "m/photos/", b"")  # what consoles create for a "folder" ...
    s3.put(b, "m/photos/p.txt", b"x")  # ... that holds objects
    s3.put(b, "m/zero.txt", b"")
    found = Source(s3.options).listing([f"s3://{b}/m"], max_bytes=100)
    assert [f.uri for f in found.files] == [f"s3://{b}/m/a b#1?x=é.txt", f"s3://{b}/m/photos/p.txt"]
    assert found.skipped == [(f"s3://{b}/m/zero.txt", "empty object (0 bytes): nothing to index")]
    copy = Source(s3.options).fetch(found.files[0], tmp_path)
    assert copy.name == "a b#1?x=é.txt" and copy.read_bytes() == b"odd name"


def test_an_object_rewritten_after_the_listing_is_not_read(s3, tmp_path):
    b = s3.bucket("rewritten")
    s3.put(b, "x/a.txt", b"first version")
    obj = Source(s3.options).listing([f"s3://{b}/x"], max_bytes=100).files[0]
    s3.put(b, "x/a.txt", b"second version")
    with pytest.raises(Exception, match="was replaced while it was read"):
        Source(s3.options).fetch(obj, tmp_path)


def test_a_bucket_indexes_to_the_folders_rows_under_its_uris_and_updates_by_etag(s3, folder, ckpt, tmp_path):
    root = s3.upload(folder, s3.bucket("media"), "set")
    Index(tmp_path / "local", model=str(ckpt)).add([folder])
    report = Index(tmp_path / "s3", model=str(ckpt)).add([root], storage_options=s3.options)
    assert report.skipped == [] and len(report.added) == 8 and report.added[0].startswith(root + "/")
    got, want = by_name(tmp_path / "s3", root), by_name(tmp_path / "local", str(folder))
    assert sorted(got) == sorted(want)
    for key, row in got.items():
        assert [row[f] for f in FIELDS] == [want[key][f] for f in FIELDS], key
        assert row["path_bytes"] == row["uri"].encode() and row["asset_id"] == asset_id(row["uri"])
        np.testing.assert_allclose(row["vector"], want[key]["vector"], atol=1e-5)
    assert staged() == []  # every download deleted with its batch

    again = Index(tmp_path / "s3", model=str(ckpt)).add([root], storage_options=s3.options)
    assert (again.rows_written, again.unchanged) == (0, 8)

    s3.put("media", "set/notes.md", b"# Other\n\nA passage about boats.\n")
    s3.delete("media", "set/short.flac")
    s3.put("media", "set/broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    report = Index(tmp_path / "s3", model=str(ckpt)).add([root], storage_options=s3.options, prune=True)
    assert report.replaced == [f"{root}/notes.md"] and report.pruned == [f"{root}/short.flac"]
    assert [s[0] for s in report.skipped] == [f"{root}/broken.png"]
    assert "tmp" not in report.skipped[0][1] and report.unchanged == 6
    texts = {r["text"] for r in by_name(tmp_path / "s3", root).values() if r["text"]}
    assert any("boats" in t for t in texts) and not any("rockets" in t for t in texts)
    assert Store(tmp_path / "s3").sidecar()["access"]["roots"] == [root]  # no staging folder recorded
    assert staged() == []


def test_prune_refuses_an_empty_prefix_and_links_options_do_not_apply(s3, ckpt, tmp_path):
    b = s3.bucket("empty")
    ix = Index(tmp_path / "db", model=str(ckpt))
    with pytest.raises(InputError, match=f"refusing to prune: s3://{b}/nothing holds no file"):
        ix.add([f"s3://{b}/nothing"], storage_options=s3.options, prune=True)
    with pytest.raises(InputError, match="apply to local folders"):
        ix.add([f"s3://{b}/nothing"], storage_options=s3.options, follow_links=True)
    assert not (tmp_path / "db").exists()


def test_the_cli_indexes_a_bucket_and_searches_it(s3, folder, ckpt, tmp_path):
    root = s3.upload(folder, s3.bucket("cli"), "m")
    opts = [a for k, v in s3.options.items() for a in ("--storage-option", f"{k}={v}")]
    out = CliRunner().invoke(
        app, ["index", root, "--db", str(tmp_path / "db"), "--model", str(ckpt), "--quiet", *opts]
    )
    assert out.exit_code == 0, out.output
    assert "added 8, replaced 0, unchanged 0" in out.output
    out = CliRunner().invoke(
        app, ["search", "passage about cats", "--db", str(tmp_path / "db"), "--mode", "keyword"]
    )
    assert out.exit_code == 0 and f"{root}/notes.md" in out.output, out.output
    s3.delete("cli", "m/img3.png")
    out = CliRunner().invoke(
        app, ["index", root, "--db", str(tmp_path / "db"), "--prune", "--dry-run", *opts]
    )
    assert out.exit_code == 0 and f"would prune {root}/img3.png (1 rows)" in out.output, out.output
    out = CliRunner().invoke(app, ["index", root, str(folder), "--db", str(tmp_path / "db2")])
    assert out.exit_code == 2 and "either local paths or object-store URIs" in out.output
    out = CliRunner().invoke(app, ["index", root, "--db", str(tmp_path / "db3"), "--storage-option", "x"])
    assert out.exit_code == 2 and "--storage-option 'x' must look like key=value" in out.output
    assert not (tmp_path / "db2").exists() and not (tmp_path / "db3").exists()


def test_the_server_searches_a_bucket_index_and_says_why_it_does_not_serve_the_object(
    s3, folder, ckpt, tmp_path
):
    pytest.importorskip("fastapi")
    import httpx2 as httpx

    from omniret.api import load_model
    from omniret.serve import ServeSettings, create_app
    from tests.serve.conftest import Running

    b = s3.bucket("served")
    s3.put(b, "v/clip.mp4", (folder / "clip.mp4").read_bytes())
    s3.put(b, "v/notes.md", (folder / "notes.md").read_bytes())
    model = load_model(ckpt, cache=False)
    Index(tmp_path / "db", model=model).add([f"s3://{b}/v"], storage_options=s3.options)
    running = Running(create_app(ServeSettings(db=tmp_path / "db"), model=model))
    try:
        running.wait_ready()
        hits = httpx.post(running.url + "/v1/search", json={"query": "a red and green clip", "k": 10}).json()[
            "hits"
        ]
        clip = next(h for h in hits if h["uri"] == f"s3://{b}/v/clip.mp4" and h["keyframe_url"])
        assert httpx.get(running.url + clip["keyframe_url"]).content[:3] == b"\xff\xd8\xff"  # from the table
        r = httpx.get(running.url + clip["media_url"])
        assert (
            r.status_code == 404 and "is an object in a bucket" in r.text and f"s3://{b}/v/clip.mp4" in r.text
        )
    finally:
        running.stop()


def test_the_staging_folder_is_private_and_a_planted_one_is_refused(tmp_path):
    import stat

    root = Path(stage_boundary().roots[0])
    assert root.parent == tmp_path / "tmp"
    assert root.name == f"omniret-objects-{os.getuid()}" and stat.S_IMODE(root.stat().st_mode) == 0o700
    root.chmod(0o777)  # writable by others: someone could swap a download before it is decoded
    with pytest.raises(InputError, match="must be a directory of this user that no one else can write"):
        stage_boundary()
    root.rmdir()
    root.symlink_to(tmp_path / "elsewhere")  # a link planted before the first job
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    with pytest.raises(InputError, match="not a link, mode 700"):
        stage_boundary()
