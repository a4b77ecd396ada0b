"""Evaluation: M-BEIR-format reader, metrics, harness, baselines and reports."""

from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.eval.global_pool import evaluate_pools, load_global_pool
from omniret.eval.harness import TaskResult, evaluate_task, group_means
from omniret.eval.mbeir import BenchmarkFormatError, load_tasks
from omniret.eval.metrics import expected_random, query_metrics

__all__ = [
    "BenchmarkFormatError",
    "RandomRanker",
    "ScoreFusion",
    "TaskResult",
    "evaluate_pools",
    "evaluate_task",
    "expected_random",
    "group_means",
    "load_global_pool",
    "load_tasks",
    "query_metrics",
]
