"""Scoring models on M-BEIR-format tasks: encode pools and queries, exact search, metrics, runs.

Bad or missing media never silently shrink a task: a query that cannot be encoded stays in the
denominator as a miss and is listed; a candidate that cannot be encoded leaves the pool and is listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.eval.mbeir import Task, candidate_input, file_hash, query_input
from omniret.eval.metrics import expected_random, query_metrics
from omniret.eval.models import RandomRanker
from omniret.media import MediaError

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
    files: tuple[str, ...] = ()  # the query file and pool file scored


def encode_skipping(model, inputs: list, *, batch_size: int = 16, progress: bool = False):
    """Encode what can be encoded: (embeddings, {index: reason}) with failed rows left at zero."""
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

    from omniret.losses import similarity

    c = torch.from_numpy(cand)
    out = np.zeros((len(queries), len(cand)), dtype=np.float32)
    for i in range(0, len(queries), chunk):  # chunked: MaxSim builds (q, c, V, V) per block
        out[i : i + chunk] = similarity(torch.from_numpy(queries[i : i + chunk]), c).numpy()
    return out


class CandidateCache:
    """Pool embeddings saved per (model weights, pool file content), so re-runs skip the pool."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, model, pool_file: Path) -> Path | None:
        if self.root is None:
            return None
        key = hashlib.sha256(
            f"{model.model_id}|{model.weights_hash}|{getattr(model, 'precision', 'fp32')}|{file_hash(pool_file)}".encode()
        ).hexdigest()
        return self.root / f"{key[:24]}.npz"

    def load(self, model, pool_file: Path):
        path = self._path(model, pool_file)
        if path is None or not path.is_file():
            return None
        data = np.load(path, allow_pickle=False)
        return data["emb"], {int(i): str(r) for i, r in zip(data["bad_idx"], data["bad_reason"], strict=True)}

    def save(self, model, pool_file: Path, emb: np.ndarray, errors: dict[int, str]) -> None:
        path = self._path(model, pool_file)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, emb=emb, bad_idx=np.array(list(errors), dtype=np.int64),
                 bad_reason=np.array(list(errors.values()), dtype=str))  # fmt: skip
        tmp.replace(path)


def evaluate_task(model, task: Task, root: Path, *, ks: list[int], batch_size: int = 16,
                  cache: CandidateCache | None = None, seed: int = 0) -> TaskResult:  # fmt: skip
    ids = [c.did for c in task.pool]
    if isinstance(model, RandomRanker):
        return _random_result(task, ids, ks, seed)
    cached = cache.load(model, task.pool_file) if cache else None
    if cached is None:
        cand, bad_c = encode_skipping(
            model, [candidate_input(root, c) for c in task.pool], batch_size=batch_size
        )
        if cache:
            cache.save(model, task.pool_file, cand, bad_c)
    else:
        cand, bad_c = cached
    queries, bad_q = encode_skipping(
        model, [query_input(root, q) for q in task.queries], batch_size=batch_size
    )
    keep = np.array([i not in bad_c for i in range(len(ids))], dtype=bool)
    kept_ids = [d for d, k in zip(ids, keep, strict=True) if k]
    scores = score_matrix(queries, cand[keep])  # (n_q, n_c)
    totals: dict[str, float] = {}
    run = []
    for qi, q in enumerate(task.queries):
        relevant = set(q.pos_cand_list) & set(kept_ids)
        if qi in bad_q:
            m = query_metrics([], len(relevant), ks)  # a query we could not encode is a miss
            run.append((q.qid, []))
        else:
            order = np.argsort(-scores[qi], kind="stable")
            ranks = [int(r) + 1 for r, c in enumerate(order) if kept_ids[c] in relevant]
            m = query_metrics(ranks, len(relevant), ks)
            run.append((q.qid, [(kept_ids[c], float(scores[qi, c])) for c in order[:RUN_DEPTH]]))
        for k, v in m.items():
            totals[k] = totals.get(k, 0.0) + v
    n = max(len(task.queries), 1)
    return TaskResult(
        name=task.name, group=task.group, n_queries=len(task.queries), n_candidates=int(keep.sum()),
        metrics={k: v / n for k, v in totals.items()},
        skipped_queries=[(task.queries[i].qid, r) for i, r in sorted(bad_q.items())],
        skipped_candidates=[(ids[i], r) for i, r in sorted(bad_c.items())], run=run,
        files=(str(task.query_file), str(task.pool_file)),
    )  # fmt: skip


def _random_result(task: Task, ids: list[str], ks: list[int], seed: int) -> TaskResult:
    rng = np.random.default_rng(seed)
    totals: dict[str, float] = {}
    run = []
    for q in task.queries:
        n_rel = len(set(q.pos_cand_list) & set(ids))
        for k, v in expected_random(len(ids), n_rel, ks).items():
            totals[k] = totals.get(k, 0.0) + v
        order = rng.permutation(len(ids))[:RUN_DEPTH]
        run.append((q.qid, [(ids[c], float(-r)) for r, c in enumerate(order)]))
    n = max(len(task.queries), 1)
    return TaskResult(name=task.name, group=task.group, n_queries=len(task.queries), n_candidates=len(ids),
                      metrics={k: v / n for k, v in totals.items()}, run=run,
                      files=(str(task.query_file), str(task.pool_file)))  # fmt: skip


def group_means(results: list[TaskResult]) -> dict[str, dict[str, float]]:
    """Per-group scores are averages over the group's tasks (the paper's convention)."""
    groups: dict[str, list[TaskResult]] = {}
    for r in results:
        groups.setdefault(r.group, []).append(r)
    return {
        g: {k: float(np.mean([r.metrics[k] for r in rs])) for k in rs[0].metrics} for g, rs in groups.items()
    }
