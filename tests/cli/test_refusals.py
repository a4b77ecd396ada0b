"""Refusals of the index commands (issue 12): one line naming the bad option or file, exit 2, and nothing
created, deleted or overwritten. Hand-made 2-d rows and a fake model (``conftest.py``): no tower is
loaded. The same refusals of the Python API: ``tests/index/test_index.py`` (reads create nothing),
``test_filters.py`` and ``test_search.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("lancedb")

from omniret.cli.main import app
from omniret.errors import InputError
from omniret.index import FilterError, Index, SidecarError
from omniret.index.search import search_vector
from omniret.index.store import SIDECAR, Store
from tests.cli.conftest import FakeModel
from tests.helpers.builders import refused, uris


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------ 1. reads never create an index


@pytest.mark.parametrize(
    "cmd",
    [["search", "x"], ["stats"], ["calibrate"], ["delete", "--where", "1=1"], ["delete", "a.png"]],
    ids=["search", "stats", "calibrate", "delete-where", "delete-file"],
)
def test_commands_refuse_a_missing_db_and_create_nothing(tmp_path, cmd):
    missing = tmp_path / "nope" / "db"
    refused(run(*cmd, "--db", missing), 2, str(missing), "does not exist")
    assert not (tmp_path / "nope").exists()
    (tmp_path / "empty").mkdir()  # an existing directory that holds no index: refused, left empty
    refused(run(*cmd, "--db", tmp_path / "empty"), 2, str(tmp_path / "empty"), "not an omniret index")
    assert list((tmp_path / "empty").iterdir()) == []


# ------------------------------------------------------------------ 2. delete --where is checked first


@pytest.mark.parametrize(
    "where",
    ["uri = ", "nosuchcol = 1", "uri > 5", "1=1) OR (1=1", "((uri = 'a1')", "uri = 'a1'; DROP TABLE segments",
     "uri = 'a1' -- comment", "uri = 'a1' /* ) */", "uri = 'a1", "uri = $$a1$$", "uri = 'a1\\'", "  "],
)  # fmt: skip
def test_malformed_delete_where_deletes_nothing(db, where):
    version = Store(db).table().version
    out = run("delete", "t1", "--where", where, "--db", db)  # with a file too: that one is kept as well
    refused(out, 2, "--where")
    assert uris(db) == ["a1", "a2", "t1", "t2"] and Store(db).table().version == version


def test_delete_where_and_files_in_one_commit(db, tmp_path):
    version = Store(db).table().version
    out = run("delete", "--where", "modality = 'text' AND uri <> 't2'", "--db", db)
    assert out.exit_code == 0 and "deleted 1 rows" in out.output, out.output
    table = Store(db).table()
    assert uris(db) == ["a1", "a2", "t2"] and table.version > version
    assert len(table.list_versions()) == 1  # older versions, which still held the deleted row, are gone
    assert "deleted 0 rows" in run("delete", "--where", "uri = 'zz'", "--db", db).output
    with pytest.raises(FilterError, match="nothing was deleted"):
        Index(db).delete(uri="a1", where="nosuchcol = 1")
    assert uris(db) == ["a1", "a2", "t2"]


# ------------------------------------------------------------------ 2b. --where cannot undo --modality


def test_where_cannot_escape_the_modality_filter(db, fake_model):
    store = Store(db)
    q = np.asarray([1.0, 0.0], np.float32)
    with pytest.raises(FilterError, match="never opened"):
        search_vector(store, q, k=4, modalities=["image"], where="1=1) OR (1=1")
    out = run("search", "x", "--db", db, "--modality", "image", "--where", "1=1) OR (1=1", "--json")
    refused(out, 2, "--where", "1=1) OR (1=1")
    # the same condition written so it parses: it can only narrow the modality filter, never widen it
    for where in ["(1=1) OR (1=1)", "uri = 't1' OR uri = 'a2'", "modality = 'text' OR 1=1"]:
        hits = search_vector(store, q, k=4, modalities=["image"], where=where).hits
        assert {h.modality for h in hits} == {"image"}, where
        out = run("search", "x", "--db", db, "--modality", "image", "--where", where, "--json")
        assert out.exit_code == 0, out.output
        assert {h["modality"] for h in json.loads(out.output)["hits"]} == {"image"}, where


@pytest.mark.parametrize("where", ["nosuchcol = 1", "uri > 5", "uri = ", "", "uri = 'a1'; x", "1=1) OR (1=1"])
def test_malformed_search_where_is_one_line(db, fake_model, where):
    before = uris(db)
    for extra in ([], ["--modality", "image,text"], ["--calibration", "off"]):
        line = refused(
            run("search", "x", "--db", db, "--where", where, *extra), 2, "--where", repr(where.strip())
        )
        assert "Traceback" not in line and line.count("omniret: error:") == 1
    assert uris(db) == before  # a refused search leaves the index as it was


# ------------------------------------------------------------------ 3. --modality, --group-by, -k, spans


def test_unknown_modality_and_group_by_are_refused(db, fake_model):
    line = refused(run("search", "x", "--db", db, "--modality", "image,bogus"), 2, "--modality", "'bogus'")
    assert "image, audio, video, text" in line
    refused(run("search", "x", "--db", db, "--modality", "image,"), 2, "--modality")
    line = refused(run("search", "x", "--db", db, "--group-by", "foo"), 2, "--group-by", "'foo'")
    assert "asset" in line
    with pytest.raises(InputError, match="expected one or more of image, audio, video, text"):
        Index(db, model=FakeModel()).search("x", modalities=["images"])
    ok = run("search", "x", "--db", db, "--modality", "text, image", "--group-by", "asset", "--json")
    assert ok.exit_code == 0 and len(json.loads(ok.output)["hits"]) == 4, ok.output


@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_below_one_is_refused(db, fake_model, k):
    line = refused(run("search", "x", "--db", db, "-k", k), 2, "-k")
    assert k in line  # the message names the value it refused


def test_huge_k_is_clamped_to_the_rows(db, fake_model):
    for extra in ([], ["--group-by", "asset"], ["--modality", "image,text"]):
        out = run("search", "x", "--db", db, "-k", str(10**12), "--json", *extra)
        assert out.exit_code == 0, out.output
        assert len(json.loads(out.output)["hits"]) == 4
    assert len(search_vector(Store(db), np.ones(2), k=10**30, modalities=["text"]).hits) == 2


@pytest.mark.parametrize("moment", ["0-inf", "nan-3", "inf-inf", "1e999-2", "5-2", "3-3", "-1-3", "1--3"])
def test_non_finite_or_negative_video_moments_are_refused(db, fake_model, moment):
    line = refused(run("search", "--db", db, "--video", f"clip.mp4@{moment}"), 2, "--video")
    assert f"clip.mp4@{moment}" in line  # the message names the moment it refused


# ------------------------------------------------------------------ 4. a corrupt omniret.json


CORRUPT = {
    "not-json": (b'{"model_id": "synthetic", ', "invalid JSON"),
    "empty": (b"", "an empty file"),
    "binary": (b"\xff\xfe\x00{", "UTF-8"),
    "array": (b"[1, 2]", "expected a JSON object, found an array"),
    "model-id": (b'{"model_id": 5}', "expected 'model_id' to be a string, found a number (5)"),
    "dim": (b'{"dim": "32"}', "expected 'dim' to be a positive integer"),
    "ann": (b'{"model_id": "synthetic", "ann": {"nprobes": "x"}}', "expected 'ann.nprobes' to be an integer"),
    "calibration": (
        b'{"calibration": {"stats": {"text": {"image": {"mean": "a"}}}}}',
        "calibration.stats.text.image",
    ),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_corrupt_sidecar_is_named_and_never_overwritten(db, fake_model, case):
    data, expected = CORRUPT[case]
    (db / SIDECAR).write_bytes(data)
    for cmd in (["stats"], ["search", "x"], ["calibrate"], ["delete", "--where", "uri = 'a1'"],
                ["index", str(db / "nothing-here"), "--quiet"]):  # fmt: skip
        refused(run(*cmd, "--db", db), 2, str(db / SIDECAR), expected)
        assert (db / SIDECAR).read_bytes() == data, cmd
    assert uris(db) == ["a1", "a2", "t1", "t2"]
    with pytest.raises(SidecarError, match="restore it or re-index"):
        Store(db).check_model("synthetic", "w1", "0", 2)  # a writer refuses it too, before writing
    assert (db / SIDECAR).read_bytes() == data


def test_a_truncated_sidecar_is_refused(db):
    whole = (db / SIDECAR).read_bytes()
    for cut in (1, len(whole) // 2, len(whole) - 1):
        (db / SIDECAR).write_bytes(whole[:cut])
        refused(run("stats", "--db", db), 2, str(db / SIDECAR), "expected a JSON object")
        assert (db / SIDECAR).read_bytes() == whole[:cut]
    (db / SIDECAR).write_bytes(whole)
    assert run("stats", "--db", db).exit_code == 0
