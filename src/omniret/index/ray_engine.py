"""``omniret index --engine ray``: decode, transcribe and embed in a Ray Data actor pool; commit as always.

One process stops being enough at a million photos or ten thousand hours of recordings; Ray Data is
the engine LanceDB itself scales out on. What moves to the cluster is the expensive part: every actor
loads the model once (``num_gpus`` per actor when the cluster has GPUs) and turns batches of planned
files into exactly the rows the embedded path makes, by running the same code (``Indexer._batch_rows``).
What stays on the driver is everything that decides correctness, unchanged: the scan and the content
hashes (what is new, changed or gone), the write lock, and the commits: per group of finished files,
their old rows deleted, then their new rows added, so a file is either fully indexed or absent and a
re-run after any crash (a killed actor is restarted by Ray and its batch redone; a killed driver is
simply run again) finishes with no lost and no duplicated rows. Rows cross to the driver as pickled
per-file payloads; LanceDB takes them at ~180k rows/s, far above what the towers produce.

A worker never raises: a file that fails is reported with its reason (and a worker-side crash of a
whole batch names every file of it), because one exception in a Ray Data UDF fails the whole job.
``write_lance`` from the workers was measured and not used: one commit per job loses all progress on a
driver crash and leaves orphan files (docs/SCALE.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
from pathlib import Path

from omniret.errors import InputError
from omniret.extras import require
from omniret.index.annotate import recognizer
from omniret.index.files import display, printable
from omniret.index.indexer import Indexer, IndexReport
from omniret.index.objects import ObjectFile
from omniret.index.roots import ReadGuard
from omniret.index.store import TABLE
from omniret.models import load_model

OBJECT_STORE_BYTES = 512 * 1024**2  # a local cluster's shared memory: rows of a few batches in flight
RAY_COMPACTION_ROWS = 1_000_000  # rows a job writes before its compaction is shared out (``compact``)
KILL_ONCE_ENV = "OMNIRET_FAULT_KILL_WORKER_ONCE"  # fault injection for tests: a marker file path


def start(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Join the cluster at ``address`` ("auto", "ray://host:10001") or start a local one. Call it before
    LanceDB is imported: LanceDB's fork hook would warn in every Ray worker process otherwise."""
    ray = require("ray", "ray")
    if not ray.is_initialized():
        quiet = {"log_to_driver": False, "logging_level": logging.WARNING}  # the job prints its own progress
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=num_cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, **quiet
            )
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False


class FileWorker:
    """A Ray actor: the model loaded once; batches of planned files in, one result row per file out."""

    def __init__(self, *, spec: str, verify: bool, boundary, video_mode: str, transcripts: bool, meta: dict,
                 threads: int, device: str | None = None, source=None) -> None:  # fmt: skip
        import torch

        torch.set_num_threads(max(1, threads))
        model = load_model(spec, verify=verify)
        if device and hasattr(model, "to"):
            model.to(device)
        self.indexer = Indexer(None, model, source=source)  # source: the storage options of bucket roots
        self.indexer.boundary, self.indexer.guard = boundary, WorkerGuard(boundary)
        self.indexer.video_mode = video_mode
        self.indexer.tower = recognizer(model) if transcripts else None
        self.meta = meta

    def __call__(self, batch):
        import pyarrow as pa

        _maybe_die()
        files = [(pickle.loads(o) if o else Path(os.fsdecode(p)), h, m, s) for p, o, h, m, s in zip(
            batch["path"].to_pylist(), batch["object"].to_pylist(), batch["hash"].to_pylist(),
            batch["modality"].to_pylist(), batch["seconds"].to_pylist(), strict=True)]  # fmt: skip
        for (f, *_), stamp in zip(files, batch["stamp"].to_pylist(), strict=True):
            self.indexer.guard.identity[f] = tuple(stamp)
        report = IndexReport()
        try:
            rows, _ = self.indexer._batch_rows(files, self.meta, report)
        except Exception as err:  # never fail the job: every file of the batch is reported instead
            rows = []
            why = printable(f"worker failed on its batch ({type(err).__name__}: {err})")
            report.skipped += [(display(f), why) for f, *_ in files]
        return pa.table(_results(files, rows, report))


class WorkerGuard(ReadGuard):
    """The driver's check that a file is still the one it hashed, on another machine: size and mtime
    (device and inode numbers differ between the hosts that mount one file system)."""

    @staticmethod
    def stamp(st) -> tuple:
        return (st.st_size, st.st_mtime_ns)


def _results(files, rows: list[dict], report: IndexReport) -> dict:
    """Per file: its rows (pickled), why it was skipped (or None), its warnings (JSON)."""
    by_path: dict[bytes, list] = {}
    for r in rows:
        by_path.setdefault(r["path_bytes"], []).append(r)
    skipped, warnings = dict(report.skipped), {}
    for name, problem in report.warnings:
        warnings.setdefault(name, []).append(problem)
    out = {"path": [], "rows": [], "skipped": [], "warnings": []}
    for f, *_ in files:
        name = display(f)
        out["path"].append(os.fsencode(f))
        out["rows"].append(pickle.dumps(by_path.get(os.fsencode(f), []), protocol=5))
        out["skipped"].append(skipped.get(name))
        out["warnings"].append(json.dumps(warnings.get(name, [])))
    return out


def _maybe_die() -> None:
    """Test hook: the first batch of a job whose environment names a marker file kills its own process."""
    marker = os.environ.get(KILL_ONCE_ENV)
    if marker and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), 9)


class RayIndexer(Indexer):
    """``Indexer`` whose batches are made by a Ray actor pool (module docstring)."""

    def __init__(self, store, model, *, spec: str, verify: bool = True, address: str | None = None,
                 actors: int = 1, cpus_per_actor: float = 1.0, gpus_per_actor: float | None = None,
                 **kwargs) -> None:  # fmt: skip
        if actors < 1 or cpus_per_actor <= 0:
            raise InputError(
                f"--actors must be >= 1 and cpus per actor > 0, got {actors} and {cpus_per_actor}"
            )
        super().__init__(store, model, **kwargs)
        self.spec, self.verify, self.address = spec, verify, address
        self.actors, self.cpus_per_actor, self.gpus_per_actor = actors, cpus_per_actor, gpus_per_actor

    def add(self, paths: list, **kwargs) -> IndexReport:
        start(self.address)
        return super().add(paths, **kwargs)

    def compact(self, table, report: IndexReport) -> None:
        """A large job's fragments merged by Ray workers (lance-ray: compaction tasks shared out, one
        commit); the driver's ``optimize`` then only folds the new rows into the full-text and ANN indexes.
        Below ``RAY_COMPACTION_ROWS`` the driver compacts: measured here, lance-ray's tasks cost 1.6-2.0 s
        of scheduling where the driver needs 0.01 s (280 rows) to 0.19 s (50,000 rows)."""
        if report.rows_written < RAY_COMPACTION_ROWS:
            return
        lance_ray = require("ray", "lance_ray")
        lance_ray.compact_files(_dataset(self.store), num_workers=max(2, self.actors),
                                storage_options=self.store.location.storage_options,
                                ray_remote_args={"num_cpus": min(1.0, self.cpus_per_actor)})  # fmt: skip
        table.checkout_latest()  # committed by another writer of this process: see it

    def produce(self, todo, meta, report):
        """Files go to the pool in batches of ``batch_files``; results come back as they finish and are
        committed in groups of ``batch_files`` finished files."""
        if not todo:
            return
        import ray

        gpus = self.gpus_per_actor
        if gpus is None:  # GPUs when the cluster has one per actor
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= self.actors else 0.0
        # stamp: (size, mtime) of the file the driver hashed (WorkerGuard); object: a bucket's ObjectFile
        items = [{"path": os.fsencode(f), "hash": h, "modality": m, "seconds": float(s),
                  "object": pickle.dumps(f) if isinstance(f, ObjectFile) else b"",
                  "stamp": list(self.guard.identity.get(f, (0, 0, -1, -1))[2:])} for f, h, m, s in todo]  # fmt: skip
        ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / self.batch_files)))
        ds = ds.map_batches(
            FileWorker, batch_size=self.batch_files, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=self.actors), num_cpus=self.cpus_per_actor, num_gpus=gpus,
            fn_constructor_kwargs={"spec": self.spec, "verify": self.verify, "boundary": self.boundary,
                                   "video_mode": self.video_mode, "transcripts": self.tower is not None,
                                   "meta": meta, "threads": int(self.cpus_per_actor),
                                   "device": "cuda" if gpus else None, "source": self.source},
        )  # fmt: skip
        planned = {os.fsencode(item[0]): item for item in todo}
        seen: set[bytes] = set()
        group: list = []
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for r in block.to_pylist():
                if r["path"] in seen:  # a batch redone after a worker died: its files came back once already
                    continue
                seen.add(r["path"])
                group.append(r)
                if len(group) >= self.batch_files:
                    yield _commit(group, planned, report)
                    group = []
        if group:
            yield _commit(group, planned, report)


def _commit(group: list[dict], planned: dict, report: IndexReport):
    """(files, rows, files done) of finished results; skipped files and warnings go to ``report``."""
    files, rows, done = [], [], []
    for r in group:
        item = planned[r["path"]]
        files.append(item)
        name = display(item[0])
        report.warnings += [(name, w) for w in json.loads(r["warnings"])]
        if r["skipped"] is not None:
            report.skipped.append((name, r["skipped"]))
            continue
        rows += pickle.loads(r["rows"])
        done.append(item[0])
    return files, rows, done


def distributed_ann(store, index_type: str, partitions: int, dim: int, *, workers: int = 2) -> None:
    """The IVF index built by ``workers`` Ray workers (lance-ray: k-means and the partition pass shared
    out), with LanceDB's name and metric, so the embedded search uses it unchanged."""
    start()
    lance_ray = require("ray", "lance_ray")
    if index_type not in ("IVF_SQ", "IVF_FLAT"):
        raise InputError(f"the distributed ANN build makes IVF_SQ or IVF_FLAT, not {index_type}")
    rows = store.table().count_rows()
    # k-means samples 256 rows per partition where there are that many (as LanceDB's own build does)
    sample_rate = max(1, min(256, rows // partitions))
    lance_ray.create_index(_dataset(store), column="vector", index_type=index_type,
                           storage_options=store.location.storage_options,
                           name="vector_idx", metric="dot", num_partitions=partitions, num_workers=workers,
                           sample_rate=sample_rate, replace=True)  # fmt: skip


def _dataset(store) -> str:
    """The Lance dataset behind the index's LanceDB table."""
    return f"{store.location.uri}/{TABLE}.lance"
