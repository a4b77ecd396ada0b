"""``index/search.py``: hits ranked by cosine on hand-made 2-d rows, filters that can only narrow,
grouping by asset, options checked before any table is read, and the model that built the index
required for a search."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from omniret.errors import InputError
from omniret.index import FilterError, IndexMismatchError
from omniret.index.search import Hit, _meta, check_options, search, search_vector
from omniret.index.store import Store, schema
from omniret.inputs import OmniInput
from tests.helpers.builders import make_db

pytest.importorskip("lancedb")

Q = np.asarray([1.0, 0.0], np.float32)  # against make_db's rows: a1 1.0, t1 0.8, a2 0.0, t2 -1.0


@pytest.fixture
def db(tmp_path):
    make_db(tmp_path / "db")
    return tmp_path / "db"


def store_of(path, rows) -> Store:
    """A 2-d index of (asset_id, segment_id, vector) rows, all of modality audio."""
    import pyarrow as pa

    store = Store(path)
    store.write_sidecar({"model_id": "synthetic", "weights_hash": "w1", "recipe_hash": "0", "dim": 2})
    x = np.asarray([v for *_, v in rows], np.float32)
    cols = {f.name: pa.nulls(len(rows), f.type) for f in schema(2)}
    cols.update(asset_id=pa.array([a for a, *_ in rows]), uri=pa.array([a for a, *_ in rows]),
                segment_id=pa.array([s for _, s, _ in rows]), modality=pa.array(["audio"] * len(rows)),
                vector=pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 2))  # fmt: skip
    store.table(2).add(pa.table(cols, schema=schema(2)))
    return store


def test_a_filter_that_slipped_past_the_check_is_refused_not_obeyed(db, monkeypatch):
    search_mod = importlib.import_module("omniret.index.search")  # the module, not Index.search
    monkeypatch.setattr(search_mod, "check_filter", lambda where: where)  # as if the scan had a hole
    with pytest.raises(FilterError, match="overrides the modality filter"):
        search_vector(Store(db), np.asarray([1.0, 0.0]), k=4, modalities=["image"], where="1=1) OR (1=1")


def test_hits_are_ranked_by_cosine_with_their_scores(db):
    result = search_vector(Store(db), Q, k=4)
    assert [h.uri for h in result.hits] == ["a1", "t1", "a2", "t2"]
    np.testing.assert_allclose([h.score for h in result.hits], [1.0, 0.8, 0.0, -1.0], atol=1e-6)
    assert (result.mode, result.calibration) == ("exact", "off")
    assert [h.uri for h in search_vector(Store(db), Q, k=2).hits] == ["a1", "t1"]


def test_modality_and_where_filters_narrow_the_ranking(db):
    store = Store(db)
    assert [h.uri for h in search_vector(store, Q, k=4, modalities=["text"]).hits] == ["t1", "t2"]
    assert [h.uri for h in search_vector(store, Q, k=4, where="uri <> 'a1'").hits] == ["t1", "a2", "t2"]
    both = search_vector(store, Q, k=4, modalities=["image"], where="uri = 'a2' OR uri = 't1'").hits
    assert [h.uri for h in both] == ["a2"]  # the where clause cannot add a text row back


def test_group_by_asset_keeps_each_assets_best_segment(tmp_path):
    store = store_of(tmp_path / "db", [("A", "s0", (1.0, 0.0)), ("A", "s1", (0.8, 0.6)),
                                       ("B", "whole", (0.6, 0.8)), ("C", "whole", (-1.0, 0.0))])  # fmt: skip
    assert [(h.asset_id, h.segment_id) for h in search_vector(store, Q, k=3).hits] == [
        ("A", "s0"), ("A", "s1"), ("B", "whole"),
    ]  # fmt: skip
    grouped = search_vector(store, Q, k=3, group_by_asset=True).hits
    assert [(h.asset_id, h.segment_id) for h in grouped] == [("A", "s0"), ("B", "whole"), ("C", "whole")]


def test_group_by_asset_looks_past_one_assets_many_segments(tmp_path):
    """20 segments of A all score above B: a grouped k=2 must still reach B (it once fetched only k*8)."""
    rows = [("A", f"s{i:02d}", (1.0, 0.01 * i)) for i in range(20)] + [("B", "whole", (0.5, 0.8))]
    grouped = search_vector(store_of(tmp_path / "db", rows), Q, k=2, group_by_asset=True).hits
    assert [(h.asset_id, h.segment_id) for h in grouped] == [("A", "s00"), ("B", "whole")]


def test_the_query_vector_must_fit_the_index(db):
    with pytest.raises(InputError, match=r"must have 2 numbers for .*, got shape \(3,\)"):
        search_vector(Store(db), np.ones(3), k=1)
    with pytest.raises(InputError, match="non-finite values"):
        search_vector(Store(db), np.asarray([np.nan, 1.0]), k=1)


def test_check_options_normalises_or_refuses_before_anything_is_read():
    assert check_options(np.int64(3), "image", "  uri = 'a'  ") == (3, ["image"], "uri = 'a'")
    assert check_options(5, ["text", "image", "text"], None) == (5, ["text", "image"], None)
    for k, words in ((0, "positive number of results, not 0"), (-2, "not -2"), (True, "whole number"),
                     (2.5, "whole number of results, not 2.5"), ("3", "whole number")):  # fmt: skip
        with pytest.raises(InputError, match=words):
            check_options(k, None, None)
    with pytest.raises(
        InputError, match="modality 'images': expected one or more of image, audio, video, text"
    ):
        check_options(1, ["images"], None)
    with pytest.raises(InputError, match="modality list is empty"):
        check_options(1, [], None)


def test_a_hit_as_json_shows_its_keyframe_as_a_data_uri():
    hit = Hit(score=0.5, uri="v.mp4", modality="video", t0=0.0, t1=10.0, asset_id="x", segment_id="0.00-10.00",
              text=None, meta={}, keyframe=b"\xff\xd8\xff")  # fmt: skip
    shown = json.loads(json.dumps(hit.as_dict()))
    assert shown["keyframe"] == "data:image/jpeg;base64,/9j/"  # base64 of ff d8 ff
    assert shown["uri"] == "v.mp4" and shown["calibrated_score"] is None
    assert hit.keyframe == b"\xff\xd8\xff"  # the hit itself is unchanged


def test_row_metadata_that_is_not_a_json_object_is_kept_under_raw():
    assert _meta('{"album": "x"}') == {"album": "x"}
    assert _meta(None) == {} and _meta("") == {}
    assert _meta("[1, 2]") == {"raw": [1, 2]} and _meta("not json") == {"raw": "not json"}


def test_a_search_with_another_model_is_refused_naming_both(db):
    class Other:
        model_id, weights_hash = "other-model", "w2"

        def encode(self, inputs, **_):  # never reached
            raise AssertionError("encoded before the model was checked")

    with pytest.raises(
        IndexMismatchError, match=r"built with synthetic \(w1\); search with the same model, not other"
    ):
        search(Store(db), Other(), OmniInput(text="x"))
    meta = json.loads((db / "omniret.json").read_text())
    del meta["weights_hash"]  # a hand-edited or partial record: refused by name, not a KeyError
    (db / "omniret.json").write_text(json.dumps(meta))
    with pytest.raises(IndexMismatchError, match=r"built with synthetic \(no weights hash\)"):
        search(Store(db), Other(), OmniInput(text="x"))


def with_words(store: Store, words: dict[str, str]) -> Store:
    """``make_db``'s rows given keywords (uri -> words) and the full-text index."""
    from omniret.index.keyword import ensure_fts

    table = store.table()
    for uri, text in words.items():
        table.update(where=f"uri = '{uri}'", values={"keywords": text})
    ensure_fts(table)
    return store


def test_keyword_mode_ranks_by_bm25_over_the_words_and_needs_no_vector(db):
    """BM25 (k1 1.2, b 0.75; mean length 1.5 words): 'crane crane' 2 * 2.2 / (2 + 1.2 * (.25 + .75 * 2/1.5))
    = 1.257 beats 'crane' 2.2 / (1 + 1.2 * (.25 + .75 * 1/1.5)) = 1.158 (times the same idf)."""
    store = with_words(Store(db), {"a1": "tea kettle", "t1": "crane crane", "a2": "crane", "t2": "tea"})
    result = search_vector(store, None, k=10, mode="keyword", text="crane")
    assert [h.uri for h in result.hits] == ["t1", "a2"]  # only rows with the word; two mentions first
    assert result.hits[0].score / result.hits[1].score == pytest.approx((4.4 / 3.5) / (2.2 / 1.9), rel=1e-3)
    assert result.ranking == {"mode": "keyword", "scoring": "bm25", "column": "keywords"}
    assert (result.mode, result.calibration) == ("keyword (bm25)", "off")
    only = search_vector(store, None, k=10, mode="keyword", text="crane", modalities=["text"])
    assert [h.uri for h in only.hits] == ["t1"]


def test_hybrid_mode_fuses_the_two_rankings_by_reciprocal_rank(db):
    """Dense (Q): a1, t1, a2, t2. Keyword 'crane': t2 (twice), a2. RRF k=60 by hand:
    t2 = 1/64 + 1/61 = .03202, a2 = 1/63 + 1/62 = .03200, a1 = 1/61, t1 = 1/62."""
    store = with_words(Store(db), {"t2": "crane crane harbour", "a2": "crane at the harbour"})
    result = search_vector(store, Q, k=4, mode="hybrid", text="crane")
    assert [h.uri for h in result.hits] == ["t2", "a2", "a1", "t1"]
    np.testing.assert_allclose(
        [h.score for h in result.hits], [1 / 64 + 1 / 61, 1 / 63 + 1 / 62, 1 / 61, 1 / 62]
    )
    assert result.hits[0].dense_score == pytest.approx(-1.0) and result.hits[0].keyword_score > 0
    assert result.hits[2].keyword_score is None
    assert result.ranking == {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60, "candidates": 100}
    # k = 0: t2 = 1/4 + 1/1, a1 = 1/1, a2 = 1/3 + 1/2, t1 = 1/2
    assert [h.uri for h in search_vector(store, Q, k=4, mode="hybrid", text="crane", rrf_k=0).hits] == [
        "t2", "a1", "a2", "t1"]  # fmt: skip


def test_a_mode_without_what_it_ranks_by_is_refused(db):
    with pytest.raises(InputError, match="search mode 'fuzzy': expected one of dense, keyword, hybrid"):
        search_vector(Store(db), Q, mode="fuzzy")
    with pytest.raises(InputError, match="keyword search needs words"):
        search_vector(Store(db), None, mode="keyword", text="  ")
    with pytest.raises(InputError, match="hybrid search needs the query's vector"):
        search_vector(Store(db), None, mode="hybrid", text="crane")
    with pytest.raises(InputError, match="hybrid search needs words"):
        search(Store(db), None, OmniInput(image=np.zeros((8, 8, 3), np.uint8)), mode="hybrid")


def test_an_index_from_before_keywords_is_told_how_to_add_them(tmp_path):
    import lancedb

    old = lancedb.connect(str(tmp_path / "db")).create_table("segments", data=[
        {"asset_id": "a", "segment_id": "whole", "uri": "a", "modality": "text", "t0": None, "t1": None,
         "text": "x", "meta": "{}", "vector": [1.0, 0.0]}])  # fmt: skip
    assert "keywords" not in old.schema.names
    with pytest.raises(InputError, match="keyword search: this index was made before keyword search"):
        search_vector(Store(tmp_path / "db"), None, mode="keyword", text="x")
