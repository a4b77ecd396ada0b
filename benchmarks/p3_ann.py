"""P3: ANN on 1M random-but-clustered vectors at the model's dimension vs exact LanceDB and FAISS flat.

The index is built and tuned by the same code as ``omniret index --build-ann`` (omniret.index.ann):
IVF_SQ by default (``--index-type``), then the cheapest (nprobes, refine) reaching the target recall@10 on a sample.

    .venv/bin/python benchmarks/p3_ann.py [--rows 1000000] [--dim 1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import table
from omniret.index.ann import INDEX_TYPES, build_ann, exact_top, recall_at
from omniret.index.store import Store, schema


def clustered(
    n: int, dim: int, *, clusters: int = 1000, seed: int = 0, chunk: int = 100_000, noise_seed=None
):
    """Unit vectors around ``clusters`` Gaussian centres; ``noise_seed`` draws new points of the same clusters."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    if noise_seed is not None:  # same centres, fresh members (queries from the collection's distribution)
        rng = np.random.default_rng(noise_seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = centers[rng.integers(clusters, size=m)] + 0.6 * rng.normal(size=(m, dim)).astype(np.float32)
        yield x / np.linalg.norm(x, axis=1, keepdims=True)


def latencies(fn, queries) -> np.ndarray:
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - start)
    return np.array(out) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--tune-sample", type=int, default=200, help="queries used to tune nprobes/refine")
    ap.add_argument("--index-type", default="IVF_SQ", choices=INDEX_TYPES)
    args = ap.parse_args()
    import faiss
    import pyarrow as pa

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        tbl = store.table(args.dim)
        flat = faiss.IndexFlatIP(args.dim)
        start = time.perf_counter()
        for i, x in enumerate(clustered(args.rows, args.dim)):
            ids = [f"{i}-{j}" for j in range(len(x))]
            cols = {f.name: pa.nulls(len(x), f.type) for f in schema(args.dim)}
            cols["asset_id"], cols["uri"], cols["modality"] = (
                pa.array(ids),
                pa.array(ids),
                pa.array(["image"] * len(x)),
            )
            cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), args.dim)
            tbl.add(pa.table(cols, schema=schema(args.dim)))
            flat.add(x)
        load_s = time.perf_counter() - start
        queries = next(clustered(args.queries, args.dim, noise_seed=7))
        exact_ms = latencies(
            lambda q: tbl.search(q).metric("dot").bypass_vector_index().limit(10).to_arrow(), queries
        )
        faiss_ms = latencies(lambda q: flat.search(q[None], 10), queries)
        ann = build_ann(store, target_recall=0.95, sample=args.tune_sample, index_type=args.index_type)
        tbl = store.table()  # a handle opened before create_index keeps reading the unindexed version
        ann_ms = latencies(lambda q: tbl.search(q).metric("dot").nprobes(ann["nprobes"]).refine_factor(
            ann["refine_factor"]).limit(10).to_arrow(), queries)  # fmt: skip
        truth = exact_top(tbl, queries, 10)
        held_recall = recall_at(tbl, queries, truth, 10, nprobes=ann["nprobes"], refine=ann["refine_factor"])
    rows = [
        ["LanceDB exact (flat scan)", "1.000", np.median(exact_ms), np.percentile(exact_ms, 99), "1.0x"],
        ["FAISS IndexFlatIP", "1.000", np.median(faiss_ms), np.percentile(faiss_ms, 99),
         f"{np.median(exact_ms) / np.median(faiss_ms):.1f}x"],
        [f"LanceDB {ann['index_type']} (nprobes {ann['nprobes']}, refine {ann['refine_factor']})",
         f"{held_recall:.3f} (tuner's held-out half {ann['recall']:.3f})",
         np.median(ann_ms), np.percentile(ann_ms, 99), f"{np.median(exact_ms) / np.median(ann_ms):.1f}x"],
    ]  # fmt: skip
    print(f"P3: {args.rows:,} clustered unit vectors, dim {args.dim}; load {load_s:.0f} s, "
          f"{ann['index_type']} build {ann['build_seconds']:.0f} s; {args.queries} queries, top 10")  # fmt: skip
    print(table(["search", "recall@10 vs exact", "p50 ms", "p99 ms", "speed-up vs exact"], rows))
    print(f"ANN vs FAISS flat: {np.median(faiss_ms) / np.median(ann_ms):.1f}x")


if __name__ == "__main__":
    main()
