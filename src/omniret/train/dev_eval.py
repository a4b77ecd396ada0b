"""Cheap periodic evaluation during training: a capped number of queries per task, no pool caching."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from omniret.eval.harness import evaluate_task
from omniret.eval.mbeir import load_tasks
from omniret.train.data import to_input


def quick_eval(model, cfg) -> dict[str, float]:
    """Recall@5 per task on at most ``cfg.max_queries`` queries each."""
    root = Path(cfg.root)
    out = {}
    was_training = model.model.training
    for task in load_tasks(root, "test", cfg.tasks):
        task.queries = task.queries[: cfg.max_queries]
        out[task.name] = evaluate_task(model, task, root, ks=[5]).metrics["recall@5"]
    model.model.train(was_training)
    return out


def split_dev(pairs: list, fraction: float) -> tuple[list, list]:
    """(train, dev): every pair whose positive id hashes below ``fraction`` is held out.

    By id, so both directions of an item (title -> drawing and drawing -> title) fall on one side;
    checkpoints and settings are then chosen on pairs training never saw, never on a test split.
    """
    if fraction <= 0:
        return pairs, []

    def held(pid: str) -> bool:
        return int(hashlib.md5(f"dev:{pid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < fraction

    return [p for p in pairs if not held(p.id)], [p for p in pairs if held(p.id)]


def pair_eval(embedder, pairs: list, *, k: int = 5) -> dict[str, float]:
    """Recall@k per (task, dataset) of held-out pairs: each query against the chunk's unique positives."""
    chunks: dict[str, list] = {}
    for p in pairs:
        chunks.setdefault(f"{p.dataset}:{p.task}", []).append(p)
    out = {}
    was_training = embedder.model.training
    for name, chunk in sorted(chunks.items()):
        ids = sorted({p.id for p in chunk})
        if len(ids) < 2:
            continue
        first = {p.id: p for p in reversed(chunk)}
        pool = embedder.encode([to_input(first[i].positive) for i in ids])
        queries = embedder.encode(
            [to_input(p.query, p.instructions[0] if p.instructions else None) for p in chunk]
        )
        scores = queries @ pool.T  # (n_q, n_pool)
        gold = np.array([ids.index(p.id) for p in chunk])
        rank = (scores > scores[np.arange(len(chunk)), gold][:, None]).sum(1)  # 0 = first
        out[name] = float((rank < k).mean())
    embedder.model.train(was_training)
    return out
