"""An index in a bucket (``--db s3://bucket/prefix``) against a real S3 endpoint on localhost: the same
table and answers as in a directory, reads that never create, and the single-writer lock as a lease
(refused while held, renewed while the job runs, taken over once its holder stopped renewing)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.errors import BusyError, InputError
from omniret.index import Index, IndexNotFoundError
from omniret.index import location as location_module
from omniret.index.location import LOCK, Directory, ObjectPrefix, locate
from omniret.index.store import Store
from tests.helpers.s3 import s3_server
from tests.index.conftest import rows, synthetic_rows

pytest.importorskip("obstore")
pytest.importorskip("lancedb")
pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


def test_a_uri_is_a_bucket_location_and_a_uri_mangled_into_a_path_is_refused(tmp_path):
    assert isinstance(locate("s3://b/idx", {"aws_region": "x"}), ObjectPrefix)
    assert isinstance(locate(tmp_path / "db"), Directory) and isinstance(locate("rel/db"), Directory)
    with pytest.raises(InputError, match=r"--db s3:/b/idx: an object-store URI must be given as text"):
        locate(Path("s3://b/idx"))  # Path() joins the slashes: never a local folder named "s3:"
    with pytest.raises(InputError, match="ftp://h/x: unsupported URI scheme"):
        locate("ftp://h/x")


def test_an_index_in_a_bucket_holds_the_same_rows_and_answers_as_in_a_directory(s3, folder, ckpt, tmp_path):
    db = f"s3://{s3.bucket('idx')}/media-index"
    remote = Index(db, model=str(ckpt), storage_options=s3.options)
    report = remote.add([folder])
    Index(tmp_path / "local", model=str(ckpt)).add([folder])
    got = rows(Index(db, model="x", storage_options=s3.options))
    want = rows(Index(tmp_path / "local", model="x"))
    assert report.rows_written == len(want) and [r[:2] for r in got] == [r[:2] for r in want]
    np.testing.assert_allclose([r[2] for r in got], [r[2] for r in want], atol=1e-6)
    names = {o["Key"] for o in s3.client.list_objects_v2(Bucket="idx")["Contents"]}
    assert {"media-index/omniret.json", "media-index/calibration_probes.npz"} <= names  # beside the table
    lease = json.loads(s3.client.get_object(Bucket="idx", Key=f"media-index/{LOCK}")["Body"].read())
    assert lease["expires"] == 0 and "released" in lease  # released with its job (marked, not deleted)

    reader = Index(db, storage_options=s3.options)
    assert reader.search("rockets", mode="keyword").hits[0].uri == str(folder / "notes.md")
    local = Index(tmp_path / "local")
    assert [h.uri for h in reader.search("rockets", k=3).hits] == [
        h.uri for h in local.search("rockets", k=3).hits
    ]
    stats = reader.stats()
    assert (
        stats["path"] == db
        and stats["rows"] == len(want)
        and stats["calibration"] == local.stats()["calibration"]
    )

    again = Index(db, model=str(ckpt), storage_options=s3.options).add([folder])
    assert (again.rows_written, again.unchanged) == (0, 8)
    assert reader.delete(uris=[str(folder / "notes.md")]) == sum(r[0].endswith("notes.md") for r in got) > 0
    assert reader.search("rockets", mode="keyword").hits == []


def test_reads_of_a_missing_bucket_index_create_nothing(s3):
    b = s3.bucket("nothing-here")
    with pytest.raises(IndexNotFoundError, match=f"no index at --db s3://{b}/idx: nothing there"):
        Index(f"s3://{b}/idx", storage_options=s3.options).stats()
    assert "Contents" not in s3.client.list_objects_v2(Bucket=b)
    writer = Store(f"s3://{b}/made", storage_options=s3.options)
    assert writer.table(16).count_rows() == 0  # a writer makes the table under an empty prefix
    assert Store(f"s3://{b}/made", storage_options=s3.options).exists()


def test_the_lease_refuses_a_second_writer_is_renewed_and_is_taken_over_once_expired(s3, monkeypatch):
    monkeypatch.setattr(location_module, "LEASE_SECONDS", 2.0)  # renewed every 0.5 s
    b = s3.bucket("leases")
    first, second = (Store(f"s3://{b}/idx", storage_options=s3.options) for _ in range(2))
    with first.writer():
        held = json.loads(s3.client.get_object(Bucket=b, Key=f"idx/{LOCK}")["Body"].read())
        time.sleep(2.5)  # longer than the lease: only renewals keep it
        with pytest.raises(
            BusyError, match=rf"writing to s3://{b}/idx \(held by pid \d+, since .*gave up after"
        ):
            with second.writer(timeout=0.3):
                pass
        renewed = json.loads(s3.client.get_object(Bucket=b, Key=f"idx/{LOCK}")["Body"].read())
        assert renewed["expires"] > held["expires"] + 1.0
    with second.writer(timeout=0):  # released: free at once
        pass
    dead = {"pid": 1, "host": "gone", "since": "2026-01-01T00:00:00+0000", "expires": time.time() - 1}
    s3.put(b, f"idx/{LOCK}", json.dumps(dead).encode())  # a writer killed mid-job: its lease ran out
    with second.writer(timeout=0):
        note = json.loads(s3.client.get_object(Bucket=b, Key=f"idx/{LOCK}")["Body"].read())
        assert note["pid"] != 1 and note["expires"] > time.time()


def test_the_cli_indexes_searches_and_describes_an_index_in_a_bucket(s3, folder, ckpt, tmp_path):
    db = f"s3://{s3.bucket('cli-idx')}/db"
    opts = [a for k, v in s3.options.items() for a in ("--storage-option", f"{k}={v}")]
    out = CliRunner().invoke(app, ["index", str(folder), "--db", db, "--model", str(ckpt), "--quiet", *opts])
    assert out.exit_code == 0 and "added 8" in out.output, out.output
    out = CliRunner().invoke(app, ["search", "rockets", "--db", db, "--mode", "keyword", *opts])
    assert out.exit_code == 0 and "notes.md" in out.output, out.output
    out = CliRunner().invoke(app, ["stats", "--db", db, *opts])
    assert out.exit_code == 0 and json.loads(out.output)["rows"] == 10
    out = CliRunner().invoke(app, ["delete", "--where", "modality = 'image'", "--db", db, *opts])
    assert out.exit_code == 0 and "deleted 4 rows" in out.output, out.output
    out = CliRunner().invoke(app, ["stats", "--db", f"s3://{s3.bucket('cli-empty')}/db", *opts])
    assert out.exit_code == 2 and "no index at --db s3://cli-empty/db" in out.output


def test_the_server_searches_an_index_in_a_bucket(s3, folder, ckpt):
    pytest.importorskip("fastapi")
    import httpx2 as httpx

    from omniret.api import load_model
    from omniret.serve import ServeSettings, create_app
    from tests.serve.conftest import Running

    db = f"s3://{s3.bucket('served-idx')}/db"
    model = load_model(ckpt, cache=False)
    Index(db, model=model, storage_options=s3.options).add([folder / "notes.md", folder / "img0.png"])
    running = Running(create_app(ServeSettings(db=db, storage_options=s3.options), model=model))
    try:
        running.wait_ready()
        r = httpx.post(running.url + "/v1/search", json={"query": "rockets", "k": 5, "mode": "keyword"})
        assert r.status_code == 200 and [h["uri"] for h in r.json()["hits"]] == [str(folder / "notes.md")]
        dense = httpx.post(running.url + "/v1/search", json={"query": "rockets", "k": 5}).json()["hits"]
        assert {h["uri"] for h in dense} == {str(folder / "notes.md"), str(folder / "img0.png")}
    finally:
        running.stop()


def test_an_ann_index_is_built_tuned_and_searched_in_a_bucket(s3):
    from omniret.index.search import search_vector

    db = f"s3://{s3.bucket('ann-idx')}/db"
    x = synthetic_rows(Store(db, storage_options=s3.options))
    ann = Index(db, storage_options=s3.options).build_ann(target_recall=0.9, force=True)
    assert ann["met_target"] and ann["recall"] >= 0.9
    result = search_vector(Store(db, storage_options=s3.options), x[7], k=3)
    assert result.mode.startswith("ann (") and result.hits[0].asset_id == f"{7:016x}"
