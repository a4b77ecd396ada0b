"""Keyword search: BM25 over one ``keywords`` column with LanceDB's native full-text index.

Dense vectors find meaning; they miss the exact word a user remembers ("quarterly budget", a
product code, a name said in a meeting). Every row therefore also stores the words a person could
search it by, in one column: its file name split into words, its passage or page text, what is said
in it (Whisper transcript or subtitles) and the values of its user metadata. One column, not one
index per source, because BM25 statistics are per column and a hit should not depend on which
source the word came from.

The index is LanceDB's own (no tantivy): rows added after it was built are still searched (flat)
until ``optimize`` folds them in, and deleted rows are never returned, so re-indexing keeps it
consistent without a rebuild. Queries are plain words (``MatchQuery``, OR of terms, BM25): no query
syntax a user could get wrong.
"""

from __future__ import annotations

import re
import warnings

from omniret.errors import InputError

KEYWORDS = "keywords"
# Recorded in the index sidecar: how its keywords are tokenised (LanceDB FTS defaults, written out).
RECIPE = {"column": KEYWORDS, "engine": "lancedb-native-fts", "scoring": "bm25", "tokenizer": "simple",
          "language": "English", "lower_case": True, "stem": True, "remove_stop_words": True,
          "ascii_folding": True}  # fmt: skip
MAX_CHARS = 20_000  # a row's keywords: enough for a 10 s transcript, a page, a long metadata record
_SEPARATORS = re.compile(r"[\W_]+")


def name_words(uri: str) -> str:
    """'/m/Quarterly_Budget-2024.pdf' -> 'Quarterly Budget 2024 pdf': file names are found by their words."""
    name = uri.rsplit("/", 1)[-1]
    return " ".join(_SEPARATORS.split(name)).strip()


def meta_words(meta) -> list[str]:
    """String and number values of user metadata, depth first (keys are field names, not content)."""
    if isinstance(meta, dict):
        return [w for v in meta.values() for w in meta_words(v)]
    if isinstance(meta, list):
        return [w for v in meta for w in meta_words(v)]
    if isinstance(meta, bool) or meta is None:
        return []
    return [str(meta)]


def keywords_text(
    *, uri: str, text: str | None = None, speech: str | None = None, meta: dict | None = None
) -> str:
    """The words a row is found by (module docstring), at most ``MAX_CHARS``."""
    parts = [name_words(uri), text or "", speech or "", " ".join(meta_words(meta or {}))]
    return " ".join(p for p in parts if p)[:MAX_CHARS]


def has_fts(table) -> bool:
    return any(getattr(i, "index_type", "") == "FTS" and KEYWORDS in getattr(i, "columns", [])
               for i in table.list_indices())  # fmt: skip


def ensure_fts(table) -> bool:
    """Build the full-text index when the table has keywords but no index yet (writers only). Rows written
    by an index made before the column existed get theirs from what the table still holds (file name,
    text, metadata). True when the index was built now."""
    if KEYWORDS not in table.schema.names or table.count_rows() == 0:
        return False
    backfill(table)
    if has_fts(table):
        return False
    from lancedb.index import FTS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.create_index(KEYWORDS, config=FTS(with_position=False))
    return True


def backfill(table) -> int:
    """Keywords of rows that have none (written before the column existed): their file name's words, text
    and metadata, in one SQL update (one commit; the metadata as its JSON, which BM25 tokenises alike)."""
    n = table.count_rows(f"{KEYWORDS} IS NULL")
    if n:
        name = "regexp_replace(regexp_replace(uri, '^.*/', ''), '[^[:alnum:]]+', ' ', 'g')"
        table.update(
            where=f"{KEYWORDS} IS NULL", values_sql={KEYWORDS: f"concat_ws(' ', {name}, text, meta)"}
        )
    return n


def keyword_rows(table, text: str, *, fetch: int, where: str | None, columns: list[str]) -> list[dict]:
    """The top ``fetch`` rows by BM25 for the words of ``text`` (each with ``_score``), filtered first."""
    from lancedb.query import MatchQuery

    if KEYWORDS not in table.schema.names:
        raise KeywordIndexError("keyword search: this index was made before keyword search: run `omniret index` on its "
                                "folders once to add keywords (nothing is re-embedded)")  # fmt: skip
    q = table.search(MatchQuery(text, KEYWORDS))
    if where:
        q = q.where(where, prefilter=True)
    return q.limit(fetch).select([*columns, "_score"]).to_list()


class KeywordIndexError(InputError):
    """An index without a ``keywords`` column was asked for a keyword search."""
