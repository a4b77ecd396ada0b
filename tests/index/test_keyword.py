"""The words a row is found by, the full-text index's life cycle, and BM25 queries with filters."""

from __future__ import annotations

import pytest

from omniret.index.keyword import (
    KEYWORDS,
    MAX_CHARS,
    KeywordIndexError,
    backfill,
    ensure_fts,
    has_fts,
    keyword_rows,
    keywords_text,
    meta_words,
    name_words,
)

lancedb = pytest.importorskip("lancedb")


def table(tmp_path, rows: list[dict]):
    return lancedb.connect(str(tmp_path / "db")).create_table("t", data=rows)


def row(aid: str, words: str | None, *, modality: str = "text", uri: str = "/m/x.txt", text=None, meta="{}"):
    return {"asset_id": aid, "segment_id": "p0", "uri": uri, "modality": modality, "text": text, "meta": meta,
            KEYWORDS: words}  # fmt: skip


def test_file_names_are_split_into_words():
    assert name_words("/m/Quarterly_Budget-2024.pdf") == "Quarterly Budget 2024 pdf"
    assert name_words("plain") == "plain"
    assert name_words("/m/dir.with.dots/a b.mp4") == "a b mp4"  # the folder's words are not the file's


def test_metadata_values_not_keys_are_words():
    meta = {"album": "holiday", "people": ["Ann", {"nick": "Bo"}], "year": 2024, "ok": True, "none": None}
    assert meta_words(meta) == ["holiday", "Ann", "Bo", "2024"]


def test_keywords_join_name_text_speech_and_metadata_and_are_capped():
    assert (
        keywords_text(uri="/m/a_b.wav", text=None, speech="hello there", meta={"k": "v"})
        == "a b wav hello there v"
    )
    assert keywords_text(uri="/m/n.md", text="some text") == "n md some text"
    assert len(keywords_text(uri="/m/x.txt", text="w " * MAX_CHARS)) == MAX_CHARS


def test_ensure_fts_builds_the_index_once_and_only_on_a_table_with_rows(tmp_path):
    t = table(tmp_path, [row("a", "quarterly budget"), row("b", "a cat on a mat")])
    assert not has_fts(t)
    assert ensure_fts(t) is True
    assert has_fts(t)
    assert ensure_fts(t) is False  # already there: kept current by optimize, not rebuilt
    empty = lancedb.connect(str(tmp_path / "db2")).create_table("t", schema=t.schema)
    assert ensure_fts(empty) is False and not has_fts(empty)


def test_rows_without_keywords_get_them_from_their_name_text_and_metadata(tmp_path):
    """Rows of an index made before the column: filled in one update when the index is built."""
    t = table(tmp_path, [row("a", None, uri="/m/Harbour_Crane.jpg", text="lifting", meta='{"site": "dock"}'),
                         row("b", "kept as is")])  # fmt: skip
    assert backfill(t) == 1
    got = {r["asset_id"]: r[KEYWORDS] for r in t.to_arrow().to_pylist()}
    assert got == {"a": 'Harbour Crane jpg lifting {"site": "dock"}', "b": "kept as is"}
    assert backfill(t) == 0
    ensure_fts(t)
    assert [r["asset_id"] for r in keyword_rows(t, "crane", fetch=5, where=None, columns=["asset_id"])] == [
        "a"
    ]


def test_bm25_returns_only_rows_with_a_query_word_best_first_and_obeys_the_filter(tmp_path):
    t = table(tmp_path, [row("a", "budget budget budget review"), row("b", "the budget", modality="audio"),
                         row("c", "a cat on a mat")])  # fmt: skip
    ensure_fts(t)
    got = keyword_rows(t, "budget", fetch=10, where=None, columns=["asset_id"])
    assert [r["asset_id"] for r in got] == ["a", "b"]  # c has no query word
    assert got[0]["_score"] > got[1]["_score"] > 0
    only = keyword_rows(t, "budget", fetch=10, where="modality = 'audio'", columns=["asset_id"])
    assert [r["asset_id"] for r in only] == ["b"]
    assert keyword_rows(t, "budget", fetch=1, where=None, columns=["asset_id"])[0]["asset_id"] == "a"


def test_query_words_are_plain_words_not_syntax_and_stems_match(tmp_path):
    t = table(tmp_path, [row("a", "budgets were approved"), row("b", "nothing here")])
    ensure_fts(t)
    assert [
        r["asset_id"] for r in keyword_rows(t, 'budget AND ( "', fetch=5, where=None, columns=["asset_id"])
    ] == ["a"]
    assert keyword_rows(t, "zebra", fetch=5, where=None, columns=["asset_id"]) == []


def test_rows_added_after_the_index_are_found_and_deleted_ones_are_not(tmp_path):
    t = table(tmp_path, [row("a", "old harbour"), row("b", "new crane")])
    ensure_fts(t)
    t.add([row("c", "harbour crane at night")])  # not folded into the index yet: searched flat

    def found(q):
        return sorted(r["asset_id"] for r in keyword_rows(t, q, fetch=5, where=None, columns=["asset_id"]))

    assert found("harbour") == ["a", "c"]
    t.delete("asset_id = 'a'")
    assert found("harbour") == ["c"]
    t.optimize()
    assert found("harbour") == ["c"] and found("crane") == ["b", "c"]


def test_an_index_without_the_column_is_refused_with_the_fix(tmp_path):
    t = lancedb.connect(str(tmp_path / "db")).create_table("t", data=[{"asset_id": "a", "text": "x"}])
    with pytest.raises(KeywordIndexError, match="run `omniret index` on its folders once"):
        keyword_rows(t, "x", fetch=5, where=None, columns=["asset_id"])
