"""Reading a hit list as a ranking of recordings, moments or pages, and the metrics over it."""

from __future__ import annotations

import pytest

from omniret.eval.words import first_relevant_rank, markdown, metrics, relevant, unit_of
from omniret.index.search import Hit


def hit(name: str, segment: str = "whole", *, t0=None, t1=None, page=None) -> Hit:
    return Hit(score=0.0, uri=f"/c/{name}", modality="audio", t0=t0, t1=t1, asset_id=name, segment_id=segment,
               text=None, meta={}, page=page)  # fmt: skip


Q = {"query": "x", "file": "rec.wav", "t0": 12.0, "t1": 14.5}


def test_units_of_hits():
    assert unit_of(hit("rec.wav"), "asset") == "rec.wav"
    assert unit_of(hit("rec.wav"), "moment") is None  # a whole row locates nothing
    assert unit_of(hit("rec.wav", "8.00-18.00", t0=8.0, t1=18.0), "moment") == ("rec.wav", "8.00-18.00")
    assert unit_of(hit("a.pdf", "page3-p0", page=3), "page") == ("a.pdf", 3)
    assert unit_of(hit("a.png", "image"), "page") is None


def test_a_moment_is_relevant_when_it_overlaps_the_span():
    assert relevant(Q, ("rec.wav", "8.00-18.00"), "moment")
    assert relevant(Q, ("rec.wav", "14.40-24.40"), "moment")  # 0.1 s of overlap
    assert not relevant(Q, ("rec.wav", "0.00-12.00"), "moment")  # touches only
    assert not relevant(Q, ("other.wav", "8.00-18.00"), "moment")
    assert relevant({"file": "a.pdf", "page": 3}, ("a.pdf", 3), "page")
    assert not relevant({"file": "a.pdf", "page": 3}, ("a.pdf", 4), "page")


def test_the_rank_counts_distinct_units_only():
    hits = [hit("other.wav"), hit("other.wav", "0.00-10.00", t0=0.0, t1=10.0), hit("rec.wav"),
            hit("rec.wav", "0.00-10.00", t0=0.0, t1=10.0), hit("rec.wav", "8.00-18.00", t0=8.0, t1=18.0)]  # fmt: skip
    assert first_relevant_rank(hits, Q, "asset") == 2  # other.wav, then rec.wav
    assert first_relevant_rank(hits, Q, "moment") == 3  # other 0-10, rec 0-10, rec 8-18
    assert first_relevant_rank(hits[:2], Q, "asset") is None


def test_recall_and_mrr_by_hand():
    got = metrics([1, 3, None, 12])
    assert got == {"R@1": 0.25, "R@5": 0.5, "R@10": 0.5, "MRR@10": pytest.approx((1 + 1 / 3) / 4)}
    assert metrics([]) == {"R@1": 0.0, "R@5": 0.0, "R@10": 0.0, "MRR@10": 0.0}


def test_the_markdown_table_has_a_row_per_mode():
    row = {"asset": metrics([1]), "moment": metrics([None]), "ms_per_query": 12.4}
    text = markdown({"speech": {"queries": 1, "files": 1, "index_seconds": 3.2, "modes": {"dense": row}}})
    assert "| dense | 1.000 | 1.000 | 1.000 | 1.000 | 0.000 | 0.000 | 0.000 | 0.000 | 12 |" in text


def test_a_collection_is_indexed_and_every_mode_scored(tmp_path, ckpt, monkeypatch):
    """Two PDFs through the real index with the tiny checkpoint: exact sentences are found on their
    page by keyword (R@1 = 1), and every mode reports each unit's metrics and its time."""
    import json

    from omniret.eval.words import MODES, evaluate_collection
    from tests.helpers.pdf import make_pdf, text_content

    pytest.importorskip("lancedb")
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))
    media = tmp_path / "pdf" / "media"
    media.mkdir(parents=True)
    make_pdf(media / "a.pdf", [text_content("Cranes lift containers at the harbour."),
                               text_content("The budget was approved in March.")])  # fmt: skip
    make_pdf(media / "b.pdf", [text_content("Owls hunt mice at night in the forest.")])
    queries = [{"query": "budget approved in March", "file": "a.pdf", "page": 2},
               {"query": "owls hunt mice", "file": "b.pdf", "page": 1}]  # fmt: skip
    (tmp_path / "pdf" / "queries.json").write_text(json.dumps(queries))
    res = evaluate_collection(tmp_path / "pdf", "pdf", model=str(ckpt))
    assert (res["queries"], res["files"], res["skipped"]) == (2, 2, [])
    assert list(res["modes"]) == list(MODES)
    assert res["modes"]["keyword"]["page"]["R@1"] == 1.0 and res["modes"]["keyword"]["asset"]["MRR@10"] == 1.0
    assert all(set(row) == {"asset", "page", "ms_per_query"} for row in res["modes"].values())
