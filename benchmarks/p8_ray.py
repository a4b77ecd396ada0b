"""P8 — the Ray engine: embedded vs Ray on one real folder, 1 vs 2 actors, and the Lance write rate.

One run, side by side, on this machine (2 cores: 1 -> 2 actors can at best double):
- ``Index.add`` of the same real mixed folder (the demo's sample media, copied ``--copies`` times under
  other names so there is work to share) with the embedded engine and with ``--engine ray`` at 1 and 2
  actors (1 CPU and 1 torch thread each; the embedded process uses both cores). Every configuration
  gets a fresh feature cache and a fresh local Ray (its start-up is timed apart), so no run reuses
  another's tower outputs. Transcripts are on (the shipped model's Whisper), as a user's run would be.
- The same folder uploaded to a bucket on a local S3 server (moto; so without network latency or
  bandwidth limits): embedded and Ray at 2 actors indexing ``s3://bench/media`` against the folder,
  i.e. the cost of listing, downloading and staging objects.
- The driver's commit path alone: ``table.add`` of 50,000 rows of 384-d vectors (rows/s) into a
  directory and into an index in the (local) bucket, and
  ``lance_ray.write_lance`` of the same rows from Ray for comparison.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/p8_ray.py [--copies 3] [--repeats 3]

Writes benchmarks/results/p8_ray.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "p8_ray.json"


def folder(tmp: Path, copies: int) -> Path:
    from omniret.demo import gather

    src = gather(tmp / "demo-media", log=lambda *_: None)
    out = tmp / "media"
    out.mkdir()
    for c in range(copies):
        for f in sorted(src.iterdir()):
            if f.is_file():
                shutil.copyfile(f, out / f"c{c}-{f.name}")
    return out


def run(engine: str, media, tmp: Path, *, actors: int = 1, storage: dict | None = None) -> dict:
    import ray

    from omniret.index import Index

    where = "bucket" if storage else "folder"
    os.environ["OMNIRET_CACHE_DIR"] = str(tmp / f"cache-{engine}-{actors}-{where}")  # fresh: nothing reused
    ray_start = 0.0
    if engine == "ray":
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=512 * 1024**2, log_to_driver=False)
        ray_start = time.perf_counter() - start
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / f"db-{engine}-{actors}-{where}"
    start = time.perf_counter()
    options = {"engine": "ray", "actors": actors, "cpus_per_actor": 1.0} if engine == "ray" else {}
    report = Index(db, model="omniret-small").add([media], storage_options=storage, **options)
    seconds = time.perf_counter() - start
    if engine == "ray":
        ray.shutdown()
    return {"engine": engine, "actors": actors if engine == "ray" else None, "input": where, "seconds": seconds,
            "ray_start_seconds": ray_start, "files": len(report.added), "rows": report.rows_written,
            "skipped": len(report.skipped)}  # fmt: skip


def lance_write(tmp: Path, s3, rows: int = 50_000, dim: int = 384) -> dict:
    import pyarrow as pa
    import ray

    from omniret.index.store import Store, schema

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cols = {f.name: pa.nulls(rows, f.type) for f in schema(dim)}
    ids = pa.array([f"{i:016x}" for i in range(rows)])
    cols.update(asset_id=ids, segment_id=pa.array(["whole"] * rows), uri=ids, modality=pa.array(["image"] * rows),
                vector=pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim))  # fmt: skip
    data = pa.table(cols, schema=schema(dim))
    rates = {}
    for where, db, options in (("driver_table_add", tmp / "lance-driver", None),
                               ("driver_table_add_bucket", f"s3://{s3.bucket('bench-db')}/db", s3.options)):  # fmt: skip
        table = Store(db, storage_options=options).table(dim)
        start = time.perf_counter()
        for i in range(0, rows, 5000):  # commits of 5,000 rows, as a driver commits batches of files
            table.add(data.slice(i, 5000))
        rates[f"{where}_rows_per_s"] = rows / (time.perf_counter() - start)
    import lance_ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=512 * 1024**2, log_to_driver=False)
    Store(tmp / "lance-ray").table(dim)  # the same empty table, made by LanceDB
    ds = ray.data.from_arrow(data)
    start = time.perf_counter()
    lance_ray.write_lance(ds, str(tmp / "lance-ray" / "segments.lance"), schema=schema(dim), mode="append")
    distributed = time.perf_counter() - start
    ray.shutdown()
    return {"rows": rows, "dim": dim, **rates, "lance_ray_write_rows_per_s": rows / distributed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=3, help="copies of the demo folder to index")
    ap.add_argument("--repeats", type=int, default=3, help="runs of every configuration (median reported)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    from tests.helpers.s3 import s3_server

    configs = [("embedded", "folder", 1), ("ray", "folder", 1), ("ray", "folder", 2), ("embedded", "bucket", 1),
               ("ray", "bucket", 2)]  # fmt: skip
    with tempfile.TemporaryDirectory() as t, s3_server() as s3:
        tmp = Path(t)
        media = folder(tmp, args.copies)
        roots = {
            "folder": (media, None),
            "bucket": (s3.upload(media, s3.bucket("bench"), "media"), s3.options),
        }
        runs = []
        for rep in range(args.repeats):  # interleaved, so a slow moment of the machine hits every config
            for engine, where, actors in configs:
                root, storage = roots[where]
                r = run(engine, root, tmp / f"r{rep}", actors=actors, storage=storage)
                runs.append({**r, "repeat": rep})
        write = lance_write(tmp, s3)
    med = {c: float(np.median([r["seconds"] for r in runs if (r["engine"], r["input"], r["actors"] or 1) == c]))
           for c in configs}  # fmt: skip
    base = med[configs[0]]
    print(f"median of {args.repeats} runs each (fresh feature cache and fresh Ray every run)")
    print(
        f"{'engine':<10} {'input':<7} {'actors':>6} {'median s':>9} {'all s':>18} {'vs embedded':>12} rows files"
    )
    for c in configs:
        these = [r for r in runs if (r["engine"], r["input"], r["actors"] or 1) == c]
        all_s = " ".join(f"{r['seconds']:.1f}" for r in these)
        print(f"{c[0]:<10} {c[1]:<7} {c[2] if c[0] == 'ray' else '-':>6} {med[c]:>9.1f} {all_s:>18} "
              f"{med[c] / base:>11.2f}x {these[0]['rows']:>4} {these[0]['files']}")  # fmt: skip
    print(f"2 actors vs 1 (folder): {med[configs[1]] / med[configs[2]]:.2f}x faster")
    print(f"bucket vs folder: embedded {med[configs[3]] / med[configs[0]]:.2f}x, "
          f"ray 2 actors {med[configs[4]] / med[configs[2]]:.2f}x")  # fmt: skip
    print(f"Lance write, {write['rows']:,} rows x {write['dim']}: driver table.add "
          f"{write['driver_table_add_rows_per_s']:,.0f} rows/s (into a bucket index: "
          f"{write['driver_table_add_bucket_rows_per_s']:,.0f}); lance_ray.write_lance "
          f"{write['lance_ray_write_rows_per_s']:,.0f} rows/s")  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "runs": runs,
                "median_seconds": {"/".join(map(str, c)): v for c, v in med.items()},
                "lance_write": write,
                "copies": args.copies,
                "repeats": args.repeats,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
