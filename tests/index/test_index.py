"""``omniret.index.Index``, the facade the CLI calls: a mixed folder indexed and searched end to end,
what ``stats`` reports, and what its reads refuse. How files are ingested is ``test_indexer.py``; the
table and sidecar are ``test_store.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omniret.errors import InputError
from omniret.index import ANN_MIN_ROWS, Index, IndexNotFoundError
from omniret.index.search import search_vector
from omniret.inputs import OmniInput
from tests.helpers.builders import make_db
from tests.index.conftest import index, rows

pytest.importorskip("lancedb")


def test_index_decomposes_and_searches(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    report = ix.add([folder])
    assert len(report.added) == 8 and not report.skipped
    st = ix.stats()
    assert (
        st["by_modality"] == {"image": 4, "audio": 1 + 2 + 1, "video": 1, "text": 1}
        and st["index_mode"] == "exact"
    )
    res = ix.search("cats", k=3)
    assert res.mode == "exact" and len(res.hits) == 3
    vec = ix.model.encode([OmniInput(text="cats")])[0]
    stored = {(u, s): np.array(v) for u, s, v in rows(ix)}
    top = res.hits[0]
    assert top.score == pytest.approx(
        float(stored[(top.uri, top.segment_id)] @ vec), abs=1e-4
    )  # score = cosine
    windows = [h for h in ix.search("tone", k=20, modalities=["audio"]).hits if h.uri.endswith("tone.wav")]
    assert {(h.t0, h.t1) for h in windows} >= {(0.0, 10.0), (2.0, 12.0), (0.0, 12.0)}


def test_where_modality_group_by_and_metadata(folder, tmp_path, ckpt):
    ix = index(tmp_path / "db", ckpt)
    ix.add([folder], meta={"owner": "ana"})
    only_images = ix.search("x", k=10, modalities=["image"]).hits
    assert {h.modality for h in only_images} == {"image"} and len(only_images) == 4
    holiday = ix.search("x", k=10, where="meta LIKE '%holiday%'").hits
    assert [Path(h.uri).name for h in holiday] == ["img0.png"] and holiday[0].meta["owner"] == "ana"
    grouped = ix.search("tone", k=10, group_by_asset=True).hits
    assert len({h.asset_id for h in grouped}) == len(grouped)


def test_the_api_reads_never_create_an_index(tmp_path):
    """No model is needed to refuse a read: a model name that loads nothing is never touched."""
    ix = Index(tmp_path / "db", model="unused")
    for call in (lambda: ix.search("x"), ix.stats, ix.calibrate, lambda: ix.delete(where="1=1"),
                 lambda: search_vector(ix.store, np.ones(2), k=1)):  # fmt: skip
        with pytest.raises(IndexNotFoundError, match="does not exist"):
            call()
    assert ix.store.table() is None and not (tmp_path / "db").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexNotFoundError, match="not an index directory"):
        Index(tmp_path / "file").stats()


def test_stats_counts_the_rows_of_one_table_version(tmp_path):
    """The four hand-made rows of ``make_db`` (two images, two texts, no text or metadata stored)."""
    db = make_db(tmp_path / "db").path
    st = Index(db).stats()
    assert (st["rows"], st["assets"], st["by_modality"]) == (4, 4, {"image": 2, "text": 2})
    assert (st["model_id"], st["weights_hash"], st["index_mode"], st["ann_recall@10"]) == (
        "synthetic", "w1", "exact", None,
    )  # fmt: skip
    assert st["calibration"] is None  # the sidecar holds no stats
    assert st["stored_copies"] == {"text_passages": 0, "keyframes": 0, "speech": 0, "keywords": 0, "metadata": 0,
                                   "paths": 4}  # fmt: skip


def test_build_ann_below_the_threshold_is_skipped_and_a_bad_target_refused(tmp_path):
    db = make_db(tmp_path / "db").path
    ix = Index(db)
    assert ix.build_ann() == {"skipped": f"4 rows: exact search is used below {ANN_MIN_ROWS} rows"}
    assert "ann" not in ix.store.sidecar()  # nothing was built or recorded
    for bad in (0, 1.5, True, "0.9"):
        with pytest.raises(InputError, match="--target-recall must be a recall in"):
            ix.build_ann(target_recall=bad)


def test_delete_needs_a_file_or_a_filter(tmp_path):
    db = make_db(tmp_path / "db").path
    with pytest.raises(InputError, match="delete needs uri=, uris= or where="):
        Index(db).delete()
    assert Index(db).stats()["rows"] == 4


def test_a_composed_query_asks_for_a_changed_item_of_its_own_medium(tmp_path):
    """Text + one medium targets that medium; text alone or a medium alone targets every modality."""
    from omniret.index import _composed_target

    img = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(img)
    assert _composed_target(OmniInput(text="the same, but blue", image=img)) == ["image"]
    assert _composed_target(OmniInput(text="a red square")) is None
    assert _composed_target(OmniInput(image=img)) is None
