"""Cheap periodic evaluation during training: a capped number of queries per task, no pool caching."""

from __future__ import annotations

from pathlib import Path

from omniret.eval.harness import evaluate_task
from omniret.eval.mbeir import load_tasks


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
