"""Scoring models on M-BEIR-format tasks: encode pools and queries, exact search, metrics, runs.

A task is scored against a pool: its own (local) or the union of the split's pools (global, see
global_pool.py); ``rank_task`` is the same exact search for both.

Bad or missing media never silently shrink a task: a query that cannot be encoded stays in the
denominator as a miss and is listed; a candidate that cannot be encoded leaves the pool and is listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.baselines.fusion import RandomRanker
from omniret.eval.mbeir import Candidate, Task, candidate_input, file_hash, query_input
from omniret.eval.metrics import (
    expected_random,
    expected_random_modality,
    modality_ks,
    modality_metrics,
    query_metrics,
)
from omniret.inputs.media import MediaError
from omniret.losses import similarity

RUN_DEPTH = 100


@dataclass
class TaskResult:
    name: str
    group: str
    n_queries: int
    n_candidates: int
    metrics: dict[str, float]
    skipped_queries: list[tuple[str, str]] = field(default_factory=list)
    skipped_candidates: list[tuple[str, str]] = field(default_factory=list)
    run: list[tuple[str, list[tuple[str, float]]]] = field(default_factory=list)
    files: tuple[str, ...] = ()  # the query file and pool file(s) scored
    pool: str = "local"  # 'local' (the task's own pool) or 'global' (the union of the split's pools)
    modality: str | None = None  # the task's candidate modality, what modality precision compares with


def encode_skipping(model, inputs: list, *, batch_size: int = 16, progress: bool = False):
    """Encode what can be encoded: (embeddings, {index: reason}) with failed rows left at zero. A model
    that brings its own (``eval/ray_encode.py``: an actor pool) is asked to do it."""
    if hasattr(type(model), "encode_skipping"):
        return model.encode_skipping(inputs, batch_size=batch_size, progress=progress)
    out = None  # allocated from the first result: (n, dim) or (n, V, D) for multi-vector models
    errors: dict[int, str] = {}

    def put(rows, emb) -> None:
        nonlocal out
        if out is None:
            out = np.zeros((len(inputs), *np.shape(emb)[1:]), dtype=np.float32)
        out[rows] = emb

    for start in range(0, len(inputs), batch_size):
        idx = list(range(start, min(start + batch_size, len(inputs))))
        try:
            put(idx, model.encode([inputs[i] for i in idx], batch_size=batch_size))
        except MediaError:
            for i in idx:  # isolate the bad item(s); the rest of the batch is kept
                try:
                    put([i], model.encode([inputs[i]], batch_size=1))
                except MediaError as err:
                    errors[i] = str(err)
    return (np.zeros((len(inputs), model.dim), dtype=np.float32) if out is None else out), errors


def score_matrix(queries: np.ndarray, cand: np.ndarray, *, chunk: int = 64) -> np.ndarray:
    """(n_q, n_c) cosine scores; (n, V, D) multi-vector embeddings are scored with MaxSim."""
    if queries.ndim == 2:
        return queries @ cand.T
    import torch

    c = torch.from_numpy(cand)
    out = np.zeros((len(queries), len(cand)), dtype=np.float32)
    for i in range(0, len(queries), chunk):  # chunked: MaxSim builds (q, c, V, V) per block
        out[i : i + chunk] = similarity(torch.from_numpy(queries[i : i + chunk]), c).numpy()
    return out


class CandidateCache:
    """Pool embeddings saved per (model weights, pool content), so re-runs skip the pool.

    A pool is a file (a local pool: its bytes are the key) or a content hash string (the global
    union, which need not be one file).
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, model, pool: Path | str) -> Path | None:
        if self.root is None:
            return None
        content = file_hash(pool) if isinstance(pool, Path) else pool
        key = hashlib.sha256(
            f"{model.model_id}|{model.weights_hash}|{getattr(model, 'precision', 'fp32')}|{content}".encode()
        ).hexdigest()
        return self.root / f"{key[:24]}.npz"

    def load(self, model, pool: Path | str):
        path = self._path(model, pool)
        if path is None or not path.is_file():
            return None
        data = np.load(path, allow_pickle=False)
        return data["emb"], {int(i): str(r) for i, r in zip(data["bad_idx"], data["bad_reason"], strict=True)}

    def save(self, model, pool: Path | str, emb: np.ndarray, errors: dict[int, str]) -> None:
        path = self._path(model, pool)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, emb=emb, bad_idx=np.array(list(errors), dtype=np.int64),
                 bad_reason=np.array(list(errors.values()), dtype=str))  # fmt: skip
        tmp.replace(path)


def encode_pool(model, root: Path, pool: list[Candidate], *, key: Path | str, batch_size: int = 16,
                cache: CandidateCache | None = None):  # fmt: skip
    """(embeddings, {index: reason}) for a pool, from the cache when this model has seen ``key``."""
    cached = cache.load(model, key) if cache else None
    if cached is not None:
        return cached
    emb, bad = encode_skipping(model, [candidate_input(root, c) for c in pool], batch_size=batch_size)
    if cache:
        cache.save(model, key, emb, bad)
    return emb, bad


def encode_queries(model, root: Path, task: Task, *, batch_size: int = 16):
    return encode_skipping(model, [query_input(root, q) for q in task.queries], batch_size=batch_size)


def evaluate_task(model, task: Task, root: Path, *, ks: list[int], batch_size: int = 16,
                  cache: CandidateCache | None = None, seed: int = 0) -> TaskResult:  # fmt: skip
    """The task against its own (local) pool."""
    files = (str(task.query_file), str(task.pool_file))
    if isinstance(model, RandomRanker):
        return random_result(task, task.pool, ks=ks, seed=seed, files=files)
    cand, bad_c = encode_pool(model, root, task.pool, key=task.pool_file, batch_size=batch_size, cache=cache)
    queries, bad_q = encode_queries(model, root, task, batch_size=batch_size)
    return rank_task(task, queries, bad_q, task.pool, cand, bad_c, ks=ks, files=files)


def rank_task(task: Task, queries: np.ndarray, bad_q: dict[int, str], pool: list[Candidate], cand: np.ndarray,
              bad_c: dict[int, str], *, ks: list[int], pool_name: str = "local",
              files: tuple[str, ...] = ()) -> TaskResult:  # fmt: skip
    """Exact search of the task's encoded queries over an encoded pool (its own or the global union).

    Ties keep pool order (a stable sort), so runs and ranks are reproducible.
    """
    keep = np.array([i not in bad_c for i in range(len(pool))], dtype=bool)
    kept = [c for c, k in zip(pool, keep, strict=True) if k]
    index = {c.did: i for i, c in enumerate(kept)}
    modalities = [c.modality for c in kept]
    target, mks = task.cand_modality, modality_ks(ks)
    scores = score_matrix(queries, cand[keep])  # (n_q, n_c)
    position = np.empty(len(kept), dtype=np.int64)
    totals: dict[str, float] = {}
    run = []
    for qi, q in enumerate(task.queries):
        relevant = sorted({index[d] for d in q.pos_cand_list if d in index})
        if qi in bad_q:  # a query we could not encode is a miss on every metric
            m = {**query_metrics([], len(relevant), ks), **modality_metrics([], target, mks)}
            run.append((q.qid, []))
        else:
            order = np.argsort(-scores[qi], kind="stable")
            position[order] = np.arange(1, len(kept) + 1)
            top = order[: max(RUN_DEPTH, *mks)]
            m = {**query_metrics(sorted(int(position[c]) for c in relevant), len(relevant), ks),
                 **modality_metrics([modalities[c] for c in top], target, mks)}  # fmt: skip
            run.append((q.qid, [(kept[c].did, float(scores[qi, c])) for c in top[:RUN_DEPTH]]))
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + v
    n = max(len(task.queries), 1)
    return TaskResult(
        name=task.name, group=task.group, n_queries=len(task.queries), n_candidates=len(kept),
        metrics={k: v / n for k, v in totals.items()},
        skipped_queries=[(task.queries[i].qid, r) for i, r in sorted(bad_q.items())],
        skipped_candidates=[(pool[i].did, r) for i, r in sorted(bad_c.items())], run=run,
        files=files, pool=pool_name, modality=target,
    )  # fmt: skip


def random_result(task: Task, pool: list[Candidate], *, ks: list[int], seed: int = 0, pool_name: str = "local",
                  files: tuple[str, ...] = ()) -> TaskResult:  # fmt: skip
    """Exact expected metrics of a uniform ranking of ``pool``, plus one sampled run for the TREC file."""
    rng = np.random.default_rng(seed)
    ids = [c.did for c in pool]
    target = task.cand_modality
    matching = sum(c.modality == target for c in pool)
    totals: dict[str, float] = {}
    run = []
    for q in task.queries:
        n_rel = len(set(q.pos_cand_list) & set(ids))
        m = {**expected_random(len(ids), n_rel, ks),
             **expected_random_modality(len(ids), matching, modality_ks(ks))}  # fmt: skip
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + v
        order = rng.permutation(len(ids))[:RUN_DEPTH]
        run.append((q.qid, [(ids[c], float(-r)) for r, c in enumerate(order)]))
    n = max(len(task.queries), 1)
    return TaskResult(name=task.name, group=task.group, n_queries=len(task.queries), n_candidates=len(ids),
                      metrics={k: v / n for k, v in totals.items()}, run=run, files=files, pool=pool_name,
                      modality=target)  # fmt: skip


def group_means(results: list[TaskResult]) -> dict[str, dict[str, float]]:
    """Per-group scores are averages over the group's tasks (the paper's convention)."""
    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        groups.setdefault(r.group, []).append(r)
    return {
        g: {k: float(np.mean([r.metrics[k] for r in rs])) for k in rs[0].metrics} for g, rs in groups.items()
    }


def task_means(results: list[TaskResult]) -> dict[str, float]:
    """The headline numbers: every metric averaged over tasks, each task weighing the same."""
    if not results:
        return {}
    return {k: float(np.mean([r.metrics[k] for r in results])) for k in results[0].metrics}
