"""``--engine ray`` on a local Ray (2 CPUs, in this process): the same rows as the embedded path, the
same incremental behaviour, a killed worker costs nothing, a bad file is reported and the rest indexed."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.errors import InputError
from omniret.index import Index
from omniret.index.ray_engine import KILL_ONCE_ENV
from tests.helpers.ray_cluster import local_ray
from tests.index.conftest import synthetic_rows

ray = pytest.importorskip("ray")
pytest.importorskip("lancedb")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray whose workers see this module's feature cache and its one-shot worker kill (first batch only)."""
    tmp = tmp_path_factory.mktemp("ray")
    with local_ray(tmp, **{KILL_ONCE_ENV: str(tmp / "killed")}):
        yield tmp


def table(db) -> list[dict]:
    from omniret.index.store import Store

    t = Store(db).table().to_arrow().sort_by([("asset_id", "ascending"), ("segment_id", "ascending")])
    return t.to_pylist()


KEYS = ("asset_id", "segment_id", "uri", "modality", "t0", "t1", "content_hash", "weights_hash", "recipe_hash",
        "meta", "text", "page", "speech", "keywords", "path_bytes")  # fmt: skip


def test_a_killed_worker_is_redone_and_the_rows_equal_the_embedded_path(cluster, folder, ckpt, tmp_path):
    """The first batch's actor kills itself (SIGKILL): Ray restarts it and redoes the batch; the table
    then holds exactly the embedded path's rows, and a re-run writes nothing."""
    report = Index(tmp_path / "ray", model=str(ckpt)).add([folder], engine="ray")
    assert (cluster / "killed").is_file()  # the kill happened
    assert report.skipped == [] and len(report.added) == 8
    Index(tmp_path / "embedded", model=str(ckpt)).add([folder])
    got, want = table(tmp_path / "ray"), table(tmp_path / "embedded")
    assert [tuple(r[k] for k in KEYS) for r in got] == [tuple(r[k] for k in KEYS) for r in want]
    np.testing.assert_allclose([r["vector"] for r in got], [r["vector"] for r in want], atol=1e-5)
    assert len({(r["asset_id"], r["segment_id"]) for r in got}) == len(got)  # nothing twice
    again = Index(tmp_path / "ray", model=str(ckpt)).add([folder], engine="ray")
    assert (again.rows_written, again.unchanged) == (0, 8)


def test_changed_files_are_replaced_vanished_ones_pruned_and_a_bad_one_reported(
    cluster, folder, ckpt, tmp_path
):
    db = tmp_path / "db"
    Index(db, model=str(ckpt)).add([folder], engine="ray")
    (folder / "notes.md").write_text("# Other\n\nA passage about boats.\n")
    (folder / "short.flac").unlink()
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    report = Index(db, model=str(ckpt)).add([folder], engine="ray", prune=True, actors=2, cpus_per_actor=0.5)
    assert report.replaced == [str(folder / "notes.md")] and report.pruned == [str(folder / "short.flac")]
    assert [f for f, _ in report.skipped] == [str(folder / "broken.png")]
    rows = table(db)
    assert {r["uri"].rsplit("/", 1)[-1] for r in rows} == {"img0.png", "img1.png", "img2.png", "img3.png",
                                                          "tone.wav", "clip.mp4", "notes.md"}  # fmt: skip
    assert [r["text"] for r in rows if r["uri"].endswith("notes.md")] == ["# Other\n\nA passage about boats."]
    assert Index(db).search("boats", mode="keyword").hits[0].uri == str(folder / "notes.md")


def test_a_loaded_model_object_is_refused_for_ray(cluster, folder, ckpt, tmp_path):
    from omniret.api import load_model

    with pytest.raises(InputError, match="loads the model in every actor: give it by name or path"):
        Index(tmp_path / "db", model=load_model(ckpt, cache=False)).add([folder], engine="ray")
    with pytest.raises(InputError, match="engine must be one of embedded, ray"):
        Index(tmp_path / "db", model=str(ckpt)).add([folder], engine="spark")


def test_the_ann_index_built_by_ray_workers_is_tuned_and_searched_as_usual(cluster, tmp_path):
    from omniret.index.search import search_vector
    from omniret.index.store import Store

    store = Store(tmp_path / "db")
    x = synthetic_rows(store)
    ann = Index(tmp_path / "db").build_ann(target_recall=0.9, force=True, engine="ray", workers=2)
    assert ann["index_type"] == "IVF_SQ" and ann["met_target"] and ann["recall"] >= 0.9
    indices = store.table().list_indices()
    assert [(i.name, i.index_type) for i in indices] == [("vector_idx", "IvfSq")]  # LanceDB names it so
    result = search_vector(store, x[7], k=3)
    assert result.mode.startswith("ann (") and result.hits[0].asset_id == f"{7:016x}"


def test_a_bucket_indexed_by_ray_actors_equals_the_embedded_path_over_the_same_bucket(cluster, folder, ckpt,
                                                                                      tmp_path):  # fmt: skip
    """Actors download the objects themselves (storage options shipped to them) and store them by URI."""
    pytest.importorskip("obstore")
    from tests.helpers.s3 import s3_server

    with s3_server() as s3:
        root = s3.upload(folder, s3.bucket("ray-media"), "set")
        report = Index(tmp_path / "ray", model=str(ckpt)).add([root], engine="ray", actors=2, cpus_per_actor=0.5,
                                                              storage_options=s3.options)  # fmt: skip
        Index(tmp_path / "embedded", model=str(ckpt)).add([root], storage_options=s3.options)
    assert report.skipped == [] and len(report.added) == 8
    got, want = table(tmp_path / "ray"), table(tmp_path / "embedded")
    assert [tuple(r[k] for k in KEYS) for r in got] == [tuple(r[k] for k in KEYS) for r in want]
    assert all(r["uri"].startswith(root + "/") for r in got)
    np.testing.assert_allclose([r["vector"] for r in got], [r["vector"] for r in want], atol=1e-5)


def test_a_large_jobs_fragments_are_compacted_by_ray_workers(cluster, folder, ckpt, tmp_path, monkeypatch):
    """Four commits of two files leave four fragments; lance-ray's distributed compaction merges them
    (called from the driver, spied on here; "large" lowered to 10 rows) and the table still holds every
    row once."""
    import lance
    import lance_ray

    from omniret.index import ray_engine

    monkeypatch.setattr(ray_engine, "RAY_COMPACTION_ROWS", 10)
    calls = []
    real = lance_ray.compact_files
    monkeypatch.setattr(lance_ray, "compact_files", lambda *a, **k: calls.append(k) or real(*a, **k))
    report = Index(tmp_path / "db", model=str(ckpt)).add([folder], engine="ray", batch_files=2)
    assert len(calls) == 1 and calls[0]["num_workers"] == 2
    ds = lance.dataset(str(tmp_path / "db" / "segments.lance"))
    assert len(ds.get_fragments()) == 1 and ds.count_rows() == report.rows_written
    rows = table(tmp_path / "db")
    assert len({(r["asset_id"], r["segment_id"]) for r in rows}) == len(rows) == report.rows_written
    assert Index(tmp_path / "db").search("rockets", mode="keyword").hits[0].uri == str(folder / "notes.md")


def test_ray_actors_index_into_an_index_in_a_bucket(cluster, folder, ckpt, tmp_path):
    """The driver commits into ``--db s3://…`` (its lock a lease); the rows equal a local embedded run."""
    pytest.importorskip("obstore")
    from omniret.index.store import Store
    from tests.helpers.s3 import s3_server

    with s3_server() as s3:
        db = f"s3://{s3.bucket('ray-idx')}/db"
        report = Index(db, model=str(ckpt), storage_options=s3.options).add([folder], engine="ray")
        got = Store(db, storage_options=s3.options).table().to_arrow()
        got = got.sort_by([("asset_id", "ascending"), ("segment_id", "ascending")]).to_pylist()
    Index(tmp_path / "embedded", model=str(ckpt)).add([folder])
    want = table(tmp_path / "embedded")
    assert report.skipped == [] and len(report.added) == 8
    assert [tuple(r[k] for k in KEYS) for r in got] == [tuple(r[k] for k in KEYS) for r in want]
    np.testing.assert_allclose([r["vector"] for r in got], [r["vector"] for r in want], atol=1e-5)
