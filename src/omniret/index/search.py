"""Searching an index with any (composed) query; exact below the size where ANN pays, ANN above."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from omniret.index.store import Store, quote
from omniret.inputs import OmniInput

ANN_MIN_ROWS = 50_000  # below this, exact search is fast enough and always exact
HIT_COLUMNS = ("asset_id", "segment_id", "uri", "modality", "t0", "t1", "text", "meta", "keyframe")


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


def search_vector(store: Store, vector: np.ndarray, *, k: int = 10, modalities: list[str] | None = None,
                  where: str | None = None, group_by_asset: bool = False) -> SearchResult:  # fmt: skip
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    table = store.table()
    if table is None:
        raise FileNotFoundError(f"{store.path} holds no index yet: run `omniret index` first")
    clauses = []
    if modalities:
        clauses.append("modality IN (" + ", ".join(quote(m) for m in modalities) + ")")
    if where:
        clauses.append(f"({where})")
    ann = store.sidecar().get("ann")
    start = time.perf_counter()
    q = table.search(np.asarray(vector, dtype=np.float32)).metric("dot")
    if ann:
        q = q.nprobes(ann["nprobes"]).refine_factor(ann["refine_factor"])
        mode = f"ann (nprobes={ann['nprobes']}, refine={ann['refine_factor']}, recall@10={ann['recall']:.3f})"
    else:
        q, mode = q.bypass_vector_index(), "exact"
    if clauses:
        q = q.where(" AND ".join(clauses), prefilter=True)
    fetch = k * 8 if group_by_asset else k
    cols = [c for c in HIT_COLUMNS if c in table.schema.names]  # an index made before a column lacks it
    rows = q.limit(fetch).select([*cols, "_distance"]).to_list()
    hits = [Hit(score=1.0 - float(r["_distance"]), uri=r["uri"], modality=r["modality"], t0=r["t0"], t1=r["t1"],
                asset_id=r["asset_id"], segment_id=r["segment_id"], text=r["text"], meta=json.loads(r["meta"] or "{}"),
                keyframe=r.get("keyframe")) for r in rows]  # fmt: skip
    if group_by_asset:
        best: dict[str, Hit] = {}
        for h in hits:
            if h.asset_id not in best or h.score > best[h.asset_id].score:
                best[h.asset_id] = h
        hits = sorted(best.values(), key=lambda h: -h.score)
    return SearchResult(hits=hits[:k], mode=mode, seconds=time.perf_counter() - start)


def search(store: Store, model, query: OmniInput, **kwargs) -> SearchResult:
    meta = store.sidecar()
    if meta.get("model_id") and (meta["model_id"], meta["weights_hash"]) != (
        model.model_id,
        model.weights_hash,
    ):
        from omniret.index.store import IndexMismatchError

        raise IndexMismatchError(f"{store.path} was built with {meta['model_id']} ({meta['weights_hash']}); "
                                 f"search with the same model, not {model.model_id}")  # fmt: skip
    return search_vector(store, model.encode([query])[0], **kwargs)
