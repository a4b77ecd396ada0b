"""Building a LanceDB vector index and tuning its search parameters to a measured recall target.

Default IVF_SQ: int8 scalar-quantised vectors in sqrt(n) partitions, re-ranked exactly by
``refine_factor``. P3 (docs/PERFORMANCE.md) measured IVF_PQ with dim/16 sub-vectors at recall 0.72
on 1M clustered 1024-d vectors: PQ codes that coarse cannot order near-equidistant neighbours.
"""

from __future__ import annotations

import math
import time

import numpy as np

from omniret.index.store import Store

NPROBES = [1, 2, 4, 8, 16, 32, 64, 128, 256]
REFINE = [1, 5, 10, 20, 40]
INDEX_TYPES = ("IVF_SQ", "IVF_PQ", "IVF_FLAT", "IVF_HNSW_SQ")


def recall_at(table, queries: np.ndarray, truth: list[set], k: int, *, nprobes: int, refine: int) -> float:
    got = 0
    for q, t in zip(queries, truth, strict=True):
        rows = table.search(q).metric("dot").nprobes(nprobes).refine_factor(refine).limit(k).with_row_id(True)
        got += len(t & set(rows.to_arrow()["_rowid"].to_pylist()))
    return got / (k * len(queries))


def exact_top(table, queries: np.ndarray, k: int) -> list[set]:
    out = []
    for q in queries:
        rows = table.search(q).metric("dot").bypass_vector_index().limit(k).with_row_id(True).to_arrow()
        out.append(set(rows["_rowid"].to_pylist()))
    return out


def build_ann(
    store: Store,
    *,
    target_recall: float = 0.95,
    sample: int = 200,
    k: int = 10,
    seed: int = 0,
    index_type: str = "IVF_SQ",
) -> dict:
    """Create the index, then pick the cheapest (nprobes, refine) meeting ``target_recall`` on a sample."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {index_type!r}")
    table = store.table()
    n = table.count_rows()
    dim = len(table.search().limit(1).to_list()[0]["vector"])
    start = time.perf_counter()
    table.create_index("vector", config=_index_config(index_type, n, dim), replace=True)
    build_s = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    rows = table.search().select(["vector"]).limit(None).to_arrow()["vector"]
    picks = rng.choice(len(rows), size=min(sample, len(rows)), replace=False)
    queries = np.stack([np.asarray(rows[int(i)].as_py(), dtype=np.float32) for i in picks])
    queries += rng.normal(scale=0.01, size=queries.shape).astype(
        np.float32
    )  # near, not equal, to stored rows
    truth = exact_top(table, queries, k)
    chosen = None
    for refine in REFINE:
        for nprobes in NPROBES:
            r = recall_at(table, queries, truth, k, nprobes=nprobes, refine=refine)
            chosen = {"nprobes": nprobes, "refine_factor": refine, "recall": r}
            if r >= target_recall:
                break
        if chosen["recall"] >= target_recall:
            break
    ann = {
        **chosen,
        "index_type": index_type,
        "target_recall": target_recall,
        "k": k,
        "sample": len(queries),
        "rows": n,
        "build_seconds": build_s,
    }
    store.write_sidecar({**store.sidecar(), "ann": ann})
    return ann


def _sub_vectors(dim: int) -> int:
    for sub in (dim // 4, dim // 8, dim // 16, 1):  # 4 dims per code: dim/16 was too coarse (P3)
        if sub and dim % sub == 0:
            return sub
    return 1


def _index_config(index_type: str, n: int, dim: int):
    """lancedb's unified index config (the metric/num_partitions keyword API is deprecated)."""
    from lancedb.index import HnswSq, IvfFlat, IvfPq, IvfSq

    parts = max(1, int(math.sqrt(n)))
    if index_type == "IVF_PQ":
        return IvfPq(distance_type="dot", num_partitions=parts, num_sub_vectors=_sub_vectors(dim))
    if index_type == "IVF_FLAT":
        return IvfFlat(distance_type="dot", num_partitions=parts)
    if index_type == "IVF_HNSW_SQ":
        return HnswSq(distance_type="dot", num_partitions=parts)
    return IvfSq(distance_type="dot", num_partitions=parts)
