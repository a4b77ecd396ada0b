"""An evaluation run: every model × every task, in local and/or global pools, as records.

The library function behind ``omniret eval mbeir``; the CLI only parses options and prints. Model
specs are those of ``omniret.models.load_model`` (``omniret models`` lists the names).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omniret.errors import InputError
from omniret.eval.global_pool import POOLS, PoolRun, evaluate_pools, load_global_pool, pool_geometry
from omniret.eval.harness import CandidateCache, TaskResult
from omniret.eval.mbeir import load_tasks
from omniret.eval.ray_encode import RayEncodedModel
from omniret.eval.report import results_record
from omniret.models import load_model


@dataclass
class ModelRun:
    spec: str
    model: object
    run: PoolRun
    record: dict
    geometry: dict | None


def load_eval_model(spec: str, *, verify: bool = True):
    """A model for a spec (``omniret.models``); ``verify`` checks checkpoints' weights hashes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the untrained-heads warning is expected for baselines
        return load_model(spec, verify=verify)


def evaluate(specs: list[str], root: Path, *, split: str = "test", tasks: str = "*", pool: str = "local",
             ks: list[int], batch_size: int = 16, cache_dir: Path | None = None, verify: bool = True,
             geometry: bool = False, on_result: Callable[[object, TaskResult], None] | None = None,
             engine: str = "embedded", address: str | None = None, actors: int = 1) -> list[ModelRun]:  # fmt: skip
    """Score each model on every task of ``root`` (all files are read and checked before a model
    loads); ``on_result(model, result)`` is called as each task finishes. ``engine="ray"``: pools and
    queries are embedded by ``actors`` Ray actors (``eval/ray_encode.py``), scored here."""
    if engine not in ("embedded", "ray"):
        raise InputError(f"--engine must be one of embedded, ray, not {engine!r}")
    if pool not in POOLS:
        raise InputError(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    if geometry and pool == "local":
        raise InputError("--geometry is computed on the global pool: add --pool global or --pool both")
    if batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {batch_size}")
    if not Path(root).is_dir():
        raise InputError(f"benchmark root {root} is not a directory")
    task_list = load_tasks(root, split, tasks)
    union = None if pool == "local" else load_global_pool(root, split)
    cache = CandidateCache(cache_dir or Path(root) / ".eval-cache")
    runs = []
    for spec in specs:
        m = load_eval_model(spec, verify=verify)
        if engine == "ray" and hasattr(m, "encode"):  # the random ranker embeds nothing
            m = RayEncodedModel(m, spec=spec, verify=verify, address=address, actors=actors)
        show = (lambda res, m=m: on_result(m, res)) if on_result else None
        run = evaluate_pools(m, task_list, root, pool=pool, ks=ks, split=split, batch_size=batch_size,
                             cache=cache, union=union, on_result=show)  # fmt: skip
        geo = pool_geometry(run) if geometry else None
        record = results_record(m, run.local, ks=ks, split=split, global_results=run.global_,
                                global_pool=run.union, geometry=geo)  # fmt: skip
        runs.append(ModelRun(spec, m, run, record, geo))
    return runs
