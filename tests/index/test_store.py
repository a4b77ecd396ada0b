"""``index/store.py``: the table and its sidecar. One model and one segmentation per index, older
tables opened as they are and migrated by the next writer, reads that create nothing, the sidecar
checked field by field, and the lock timeout read from the option or the environment."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from omniret.api import Embedder
from omniret.config import ModelConfig, from_dict
from omniret.errors import InputError
from omniret.index import Index, IndexMismatchError, IndexNotFoundError
from omniret.index.decompose import segmentation
from omniret.index.location import LOCK, LOCK_TIMEOUT_ENV
from omniret.index.store import SIDECAR, Store, check_sidecar, lock_timeout
from omniret.model import OmniRet
from tests.conftest import guarded, local_config_dict
from tests.index.conftest import ODD, index, rows_by_key

pytest.importorskip("lancedb")


def test_other_model_is_refused(folder, tmp_path, ckpt, hf_dirs):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "notes.md"])
    other = Embedder(OmniRet.build(from_dict(ModelConfig, local_config_dict(hf_dirs))))
    with pytest.raises(IndexMismatchError, match="was built with model"):
        Index(tmp_path / "db", model=other).add([folder])


def test_segmentation_is_recorded_and_kept(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "clip.mp4"], video_segments="shots")
    assert ix.stats()["segmentation"]["video"] == "shots"
    ix.add([folder / "tone.wav"])  # no choice given: the index's own is kept
    assert ix.stats()["segmentation"]["video"] == "shots"
    with pytest.raises(IndexMismatchError, match="cuts videos into shots segments, not fixed"):
        ix.add([folder], video_segments="fixed")


def test_an_index_made_before_keyframes_keeps_working_and_is_migrated(folder, tmp_path, ckpt):
    import pyarrow as pa

    from omniret.index.store import TABLE, schema

    ix = index(tmp_path / "db", ckpt)
    ix.add([folder / "img0.png"])
    old = ix.store.table().to_arrow().drop_columns(["keyframe"])  # as an index of the previous release
    ix.store.db.drop_table(TABLE)
    ix.store.db.create_table(
        TABLE,
        data=old,
        schema=pa.schema(
            [f for f in schema(old.schema.field("vector").type.list_size) if f.name != "keyframe"]
        ),
    )
    assert [h.uri for h in ix.search("x", k=5).hits] == [
        str((folder / "img0.png").resolve())
    ]  # readable as is
    ix.add([folder / "clip.mp4"])
    t = ix.store.table().to_arrow()
    kf = dict(zip(t["modality"].to_pylist(), t["keyframe"].to_pylist(), strict=True))
    assert (
        t.num_rows == 2 and kf["image"] is None and kf["video"][:2] == b"\xff\xd8"
    )  # old row kept, new has a JPEG


@pytest.mark.usefixtures("isolated_cache")
def test_an_index_made_before_path_bytes_still_opens_and_takes_new_rows(tmp_path, model):
    import pyarrow as pa

    from omniret.index.store import TABLE, schema

    root = tmp_path / "media"
    root.mkdir()
    (root / "old.txt").write_text("An old note about sailing.\n")
    ix = Index(tmp_path / "db", model=model)
    ix.add([root])
    old = ix.store.table().to_arrow().drop_columns(["path_bytes"])  # as written by the previous release
    ix.store.db.drop_table(TABLE)
    dim = old.schema.field("vector").type.list_size
    ix.store.db.create_table(
        TABLE, data=old, schema=pa.schema([f for f in schema(dim) if f.name != "path_bytes"])
    )
    assert "path_bytes" not in ix.store.table().schema.names
    assert [Path(h.uri).name for h in ix.search("sailing", k=3).hits] == ["old.txt"]  # readable as is
    with open(os.path.join(os.fsencode(root), ODD), "wb") as f:
        f.write(b"A new note about kites.\n")
    report = guarded(lambda: ix.add([root], prune=True))
    assert report.unchanged == 1 and len(report.added) == 1 and not report.pruned  # old row recognised
    rows = rows_by_key(ix)
    assert rows[(f"{root}/old.txt", "p0")]["path_bytes"] is None  # older rows: the path is the uri
    assert rows[(f"{root}/caf\\xe9.txt", "p0")]["path_bytes"] == os.path.join(os.fsencode(root), ODD)


# ------------------------------------------------------------------ without a model


def test_reads_create_nothing_and_name_what_is_there_instead(tmp_path):
    store = Store(tmp_path / "db")
    assert store.table() is None and store.sidecar() == {} and not store.exists()
    with pytest.raises(IndexNotFoundError, match="the directory does not exist"):
        store.require()
    assert not (tmp_path / "db").exists()
    (tmp_path / "file").write_text("x")
    for call in (Store(tmp_path / "file").require, Store(tmp_path / "file").create):
        with pytest.raises(IndexNotFoundError, match=r"is not an index directory \(it is a file\)"):
            call()


def test_the_first_model_is_recorded_and_another_one_refused_naming_both(tmp_path):
    store = Store(tmp_path / "db")
    store.check_model("m1", "w1", "r1", 4, source="/ckpt/m1")
    assert store.sidecar() == {"model_id": "m1", "weights_hash": "w1", "recipe_hash": "r1", "dim": 4,
                               "model_source": "/ckpt/m1"}  # fmt: skip
    store.check_model("m1", "w1", "r1", 4)  # the same model again: accepted, nothing changes
    with pytest.raises(IndexMismatchError, match=r"built with model m1 \(weights w1.*uses m1 \(weights w2"):
        store.check_model("m1", "w2", "r1", 4)
    with pytest.raises(IndexMismatchError, match="recipe r2"):
        store.check_model("m1", "w1", "r2", 4)
    assert store.sidecar()["weights_hash"] == "w1"


def test_a_new_index_takes_the_wanted_segmentation_an_old_one_fixed(tmp_path):
    """An index whose sidecar has a model but no segmentation predates the record: it was cut at 10 s."""
    new = Store(tmp_path / "new")
    assert new.check_segmentation(segmentation("shots"))["video"] == "shots"
    assert new.sidecar()["segmentation"] == segmentation("shots")
    old = Store(tmp_path / "old")
    old.write_sidecar({"model_id": "m1"})
    assert old.check_segmentation(None) == segmentation("fixed")
    with pytest.raises(IndexMismatchError, match="cuts videos into fixed segments, not shots"):
        old.check_segmentation(segmentation("shots"))


def test_the_writer_lock_is_reentrant_and_released(tmp_path):
    store = Store(tmp_path / "db")
    with store.writer(timeout=0):
        with store.writer(timeout=0):  # the same Store again: does not wait for itself
            assert json.loads((tmp_path / "db" / LOCK).read_text())["pid"] == os.getpid()
        assert (tmp_path / "db" / LOCK).read_text() != ""  # still held by the outer writer
    assert (tmp_path / "db" / LOCK).read_text() == ""
    with Store(tmp_path / "db").writer(timeout=0):  # another Store gets it at once
        pass


def test_lock_timeout_from_the_value_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv(LOCK_TIMEOUT_ENV, raising=False)
    assert lock_timeout() == 10.0
    assert lock_timeout("2.5") == 2.5 and lock_timeout(0) == 0.0 and math.isinf(lock_timeout("inf"))
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "3")
    assert lock_timeout() == 3.0 and lock_timeout(1) == 1.0  # an explicit value wins
    for bad, words in (("-1", "seconds >= 0"), ("nan", "seconds >= 0"), ("soon", "seconds, not 'soon'")):
        with pytest.raises(InputError, match=f"lock timeout must be a number of {words}"):
            lock_timeout(bad)
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, bad)
        with pytest.raises(InputError, match=LOCK_TIMEOUT_ENV):  # the message names the variable
            lock_timeout()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, None),
        ({"model_id": None, "unknown": [1]}, None),  # null means absent; unknown keys are kept
        ([], "expected a JSON object, found an array ([])"),
        ({"weights_hash": 7}, "expected 'weights_hash' to be a string, found a number (7)"),
        ({"dim": 0}, "expected 'dim' to be a positive integer, found a number (0)"),
        ({"dim": True}, "expected 'dim' to be a positive integer, found a boolean (true)"),
        ({"ann": []}, "expected 'ann' to be an object, found an array ([])"),
        (
            {"ann": {"nprobes": 4, "refine_factor": 0, "recall": 1}},
            "expected 'ann.refine_factor' to be an integer >= 1, found a number (0)",
        ),
        (
            {"segmentation": {"video": 10}},
            "expected 'segmentation.video' to be a string, found a number (10)",
        ),
        ({"access": {"roots": "/media"}}, "expected 'access.roots' to be a list of paths, found a string"),
        (
            {"access": {"roots": [], "follow_links": "no"}},
            "expected 'access.follow_links' to be true or false",
        ),
        (
            {"calibration": {"rows": {"image": "3"}}},
            "expected 'calibration.rows' to map modalities to integers",
        ),
    ],
)
def test_check_sidecar_names_the_field_and_what_it_found(data, problem):
    got = check_sidecar(data)
    assert got is None if problem is None else got.startswith(problem), got


def test_a_corrupt_sidecar_names_the_file_and_is_kept(tmp_path):
    store = Store(tmp_path / "db")
    store.create()
    (tmp_path / "db" / SIDECAR).write_text('{"dim": -3}')
    with pytest.raises(
        InputError, match=rf"{SIDECAR}: corrupt index sidecar: expected 'dim' to be a positive"
    ):
        store.sidecar()
    with pytest.raises(InputError, match="corrupt index sidecar"):  # a writer stops before it changes it
        store.check_model("m1", "w1", "r1", 4)
    assert (tmp_path / "db" / SIDECAR).read_text() == '{"dim": -3}'
