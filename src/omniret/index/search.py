"""Searching an index with any (composed) query; exact below the size where ANN pays, ANN above.

With calibration (``calibrate.py``) the candidates of each modality are fetched by their own query
(a modality filter, the same k) and merged by calibrated score: the z-score is monotone within a
modality, so the calibrated top k lies in the union of the per-modality raw top k and is exact
whenever the search itself is exact."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from omniret.errors import InputError
from omniret.index.calibrate import MODALITIES, Calibration, choose
from omniret.index.filters import FilterError, check_filter, filter_problem, quote
from omniret.index.hybrid import CANDIDATES, RRF_K, fuse
from omniret.index.keyword import keyword_rows
from omniret.index.store import IndexMismatchError, IndexNotFoundError, Store
from omniret.inputs import OmniInput

ANN_MIN_ROWS = 50_000  # below this, exact search is fast enough and always exact
GROUPS = ("asset",)  # what hits can be grouped by (``--group-by``)
HIT_COLUMNS = ("asset_id", "segment_id", "uri", "modality", "t0", "t1", "text", "meta", "keyframe", "page",
               "speech", "speech_lang", "speech_source")  # fmt: skip
SEARCH_MODES = ("dense", "keyword", "hybrid")


@dataclass
class Hit:
    score: float
    uri: str
    modality: str
    t0: float | None
    t1: float | None
    asset_id: str
    segment_id: str
    text: str | None
    meta: dict
    keyframe: bytes | None = None  # JPEG of a video moment's middle frame
    calibrated_score: float | None = None  # z-score of ``score`` for its modality, when calibrated
    rerank_score: float | None = None  # late-interaction score of the second stage (``rerank.py``)
    page: int | None = None  # a PDF page (1-based)
    speech: str | None = None  # what is said in the moment (transcript or subtitles)
    speech_lang: str | None = None
    speech_source: str | None = None  # "asr" or "subtitles"
    dense_score: float | None = None  # hybrid: the cosine of the dense ranking (None: not in its top)
    keyword_score: float | None = None  # hybrid: the BM25 score of the keyword ranking

    def as_dict(self) -> dict:
        """JSON-ready: the keyframe as a data URI a browser can show directly."""
        out = dict(vars(self))
        if self.keyframe:
            import base64

            out["keyframe"] = "data:image/jpeg;base64," + base64.b64encode(self.keyframe).decode()
        return out


@dataclass
class SearchResult:
    hits: list[Hit]
    mode: str  # "exact" or "ann (nprobes=.., refine=.., measured recall@10=..)"
    seconds: float
    calibration: str = "off"  # "on (text-query stats)", "off", or "off (why not)"
    ranking: dict = field(default_factory=lambda: {"mode": "dense"})  # how hits were ranked (--json)


def check_options(
    k, modalities: list[str] | None, where: str | None
) -> tuple[int, list[str] | None, str | None]:
    """A search's ``k``, ``modalities`` and ``where``, validated before any model or table is touched."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise InputError(f"k must be a whole number of results, not {k!r}")
    if k <= 0:
        raise InputError(f"k must be a positive number of results, not {k}")
    if modalities is not None:
        if isinstance(modalities, str):
            modalities = [modalities]
        bad = [m for m in modalities if m not in MODALITIES]
        if bad or not modalities:
            raise InputError(f"modality {', '.join(map(repr, bad)) or 'list is empty'}: expected one or more of "
                             f"{', '.join(MODALITIES)}")  # fmt: skip
        modalities = list(dict.fromkeys(modalities))
    return int(k), modalities, (check_filter(where) if where is not None else None)


def search_vector(store: Store, vector: np.ndarray | None, *, k: int = 10, modalities: list[str] | None = None,
                  where: str | None = None, group_by_asset: bool = False, calibration: Calibration | None = None,
                  mode: str = "dense", text: str | None = None, rrf_k: int = RRF_K) -> SearchResult:  # fmt: skip
    """Top ``k`` rows by cosine or, with ``calibration``, by calibrated score (raw ``score`` kept);
    ``mode="keyword"``: by BM25 over the words of ``text`` (no vector); ``"hybrid"``: both rankings
    fused by reciprocal rank (``hybrid.py``; ``score`` is the fused value).

    All reads of one search use one table version (LanceDB pins an opened table to the version it
    opened), so a search running while a writer commits sees the table before or after the commit."""
    k, modalities, where = check_options(k, modalities, where)
    text = check_words(mode, text)
    if mode != "keyword" and vector is None:
        raise InputError(f"{mode} search needs the query's vector")
    store.require()
    table = store.table()
    if table is None:
        raise IndexNotFoundError(f"{store.path} holds no index yet: run `omniret index` first")
    if mode != "keyword":
        vector = _check_vector(store, table, vector)
    ann = store.sidecar().get("ann")
    if mode == "keyword":
        mode_text = "keyword (bm25)"
    elif ann:
        mode_text = (
            f"ann (nprobes={ann['nprobes']}, refine={ann['refine_factor']}, recall@10={ann['recall']:.3f})"
        )
    else:
        mode_text = "exact"
    # Clamp, not refuse: a k above the row count returns every row (no search can return more), and a
    # LanceDB limit must fit in 64 bits (k=10**12 * 8 would not).
    rows = table.count_rows()
    fetch = min(k * 8 if group_by_asset else k, rows)
    start = time.perf_counter()
    ranking = {"mode": mode}
    if mode == "keyword":
        ranking |= {"scoring": "bm25", "column": "keywords"}
    if mode == "hybrid":
        ranking |= {"fusion": "rrf", "rrf_k": rrf_k, "candidates": max(CANDIDATES, k)}

    def ranked(n: int) -> list[Hit]:
        if mode == "dense":
            return _ranked(table, vector, ann, n, modalities, where, calibration)
        if mode == "keyword":
            return _keyword(table, text, n, modalities, where)
        wide = min(max(n, CANDIDATES), rows)
        return fuse(_ranked(table, vector, ann, wide, modalities, where, calibration),
                    _keyword(table, text, wide, modalities, where), k=rrf_k)[:n]  # fmt: skip

    hits = ranked(fetch)
    while group_by_asset and len({h.asset_id for h in hits}) < k and fetch < rows:
        fetch = min(fetch * 4, rows)  # one asset's many segments filled the fetch: look further
        hits = ranked(fetch)
    if group_by_asset:
        best: dict[str, Hit] = {}
        for h in hits:  # hits are in ranking order: the first of an asset is its best
            best.setdefault(h.asset_id, h)
        hits = list(best.values())
    status = f"on ({calibration.query}-query stats)" if calibration else "off"
    return SearchResult(hits=hits[:k], mode=mode_text, seconds=time.perf_counter() - start, calibration=status,
                        ranking=ranking)  # fmt: skip


def _ranked(table, vector, ann, fetch: int, modalities, where, calibration: Calibration | None) -> list[Hit]:
    """The top ``fetch`` rows by cosine or, with ``calibration``, each candidate modality's top ``fetch``
    by its own query, merged by calibrated score."""
    if fetch == 0:
        return []
    if calibration is None:
        return _query(table, vector, ann, fetch, modalities, where)
    hits = []
    for m in [m for m in calibration.modalities if not modalities or m in modalities]:
        for h in _query(table, vector, ann, fetch, [m], where):
            h.calibrated_score = calibration.z(m, h.score)
            hits.append(h)
    return sorted(hits, key=lambda h: (-h.calibrated_score, -h.score))


def _query(
    table, vector, ann: dict | None, fetch: int, modalities: list[str] | None, where: str | None
) -> list[Hit]:
    """One LanceDB vector query: exact (flat, ``bypass_vector_index``) or the tuned ANN setting.

    ``where`` has passed ``check_filter`` (balanced parentheses outside quotes, no comments), so
    ``(where)`` cannot close the group it is put in; each hit's modality is checked against the
    filter all the same, so a filter that got past that check is refused instead of obeyed."""
    q = table.search(np.asarray(vector, dtype=np.float32)).metric("dot")
    if ann:
        q = q.nprobes(ann["nprobes"]).refine_factor(ann["refine_factor"])
    else:
        q = q.bypass_vector_index()
    condition = _condition(modalities, where)
    if condition:
        q = q.where(condition, prefilter=True)
    with _refusal(where):
        rows = q.limit(fetch).select([*_columns(table), "_distance"]).to_list()
    if modalities and any(r["modality"] not in modalities for r in rows):
        raise FilterError(f"filter {where!r} overrides the modality filter ({', '.join(modalities)}): "
                          "it must be one self-contained condition")  # fmt: skip
    return [_hit(r, 1.0 - float(r["_distance"])) for r in rows]


def _hit(r: dict, score: float) -> Hit:
    return Hit(score=score, uri=r["uri"], modality=r["modality"], t0=r["t0"], t1=r["t1"], asset_id=r["asset_id"],
               segment_id=r["segment_id"], text=r["text"], meta=_meta(r["meta"]), keyframe=r.get("keyframe"),
               page=r.get("page"), speech=r.get("speech"), speech_lang=r.get("speech_lang"),
               speech_source=r.get("speech_source"))  # fmt: skip


def _keyword(table, text: str, fetch: int, modalities: list[str] | None, where: str | None) -> list[Hit]:
    """The top ``fetch`` rows by BM25 (``keyword.py``), with the same filters as a dense query."""
    if fetch == 0:
        return []
    with _refusal(where):
        rows = keyword_rows(
            table, text, fetch=fetch, where=_condition(modalities, where), columns=_columns(table)
        )
    return [_hit(r, float(r["_score"])) for r in rows]


def _condition(modalities: list[str] | None, where: str | None) -> str | None:
    """The prefilter of a query: the modality filter and the user's ``where`` (which has passed
    ``check_filter``, so ``(where)`` cannot close the group it is put in)."""
    clauses = ["modality IN (" + ", ".join(quote(m) for m in modalities) + ")"] if modalities else []
    if where:
        clauses.append(f"({where})")
    return " AND ".join(clauses) or None


def _columns(table) -> list[str]:
    """The hit columns this table has (an index made before a column lacks it)."""
    return [c for c in HIT_COLUMNS if c in table.schema.names]


@contextmanager
def _refusal(where: str | None):
    """A query LanceDB refuses because of the user's filter becomes a ``FilterError`` naming it."""
    try:
        yield
    except Exception as err:
        problem = filter_problem(err) if where and not isinstance(err, InputError) else None
        if problem is None:
            raise
        raise FilterError(f"filter {where!r} was refused by LanceDB: {problem}") from None


def check_words(mode: str, text: str | None) -> str | None:
    """A search mode and the words it needs: keyword and hybrid search rank by the query's text."""
    if mode not in SEARCH_MODES:
        raise InputError(f"search mode {mode!r}: expected one of {', '.join(SEARCH_MODES)}")
    if mode != "dense" and not (text or "").strip():
        raise InputError(
            f"{mode} search needs words: the query has no text (use --mode dense for media-only queries)"
        )
    return text.strip() if text else None


def _check_vector(store: Store, table, vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    dim = table.schema.field("vector").type.list_size
    if vector.shape != (dim,):
        raise InputError(
            f"the query vector must have {dim} numbers for {store.path}, got shape {vector.shape}"
        )
    if not np.isfinite(vector).all():
        raise InputError("the query vector holds non-finite values (NaN or inf): nothing to rank by")
    return vector


def _meta(text: str | None) -> dict:
    """A row's metadata; a value that is not a JSON object (hand-written rows) is kept under "raw"."""
    try:
        meta = json.loads(text or "{}")
    except ValueError:
        return {"raw": text}
    return meta if isinstance(meta, dict) else {"raw": meta}


def search(store: Store, model, query: OmniInput, *, calibration: str = "auto", mode: str = "dense",
           **kwargs) -> SearchResult:  # fmt: skip
    """``calibration``: "auto", "on" or "off" (``calibrate.choose`` says when each applies). ``mode``:
    dense | keyword | hybrid; keyword search ranks by the query's own text (no instruction) and
    needs no model (``model`` may be None)."""
    check_words(mode, query.text)
    if mode == "keyword":
        store.require()
        return search_vector(store, None, mode="keyword", text=query.text, **kwargs)
    store.require()
    _, kwargs["modalities"], kwargs["where"] = check_options(
        kwargs.get("k", 10), kwargs.get("modalities"), kwargs.get("where")
    )
    meta = store.sidecar()
    if meta.get("model_id") and (meta["model_id"], meta.get("weights_hash")) != (
        model.model_id,
        model.weights_hash,
    ):
        raise IndexMismatchError(f"{store.path} was built with {meta['model_id']} ({meta.get('weights_hash', 'no weights hash')}); "
                                 f"search with the same model, not {model.model_id}")  # fmt: skip
    table = store.table()
    cal, status = choose(meta, mode=calibration, query=query.modalities(), weights_hash=model.weights_hash,
                         modalities=kwargs.get("modalities"), table_version=None if table is None else table.version)  # fmt: skip
    result = search_vector(
        store, model.encode([query])[0], calibration=cal, mode=mode, text=query.text, **kwargs
    )
    result.calibration = status
    return result
