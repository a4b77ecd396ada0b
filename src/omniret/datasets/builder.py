"""What every offline-benchmark source writes through: the build state, stable hash splits and slugs.

Kept apart from ``offline.py`` (which lists the tasks and runs them) so that the sources in
``offline_tasks.py`` and the out-of-domain builder can use it without importing the runner.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import defaultdict
from pathlib import Path

from omniret.datasets.writer import write_task


def is_test(namespace: str, key: str, percent: int) -> bool:
    return int(hashlib.md5(f"{namespace}:{key}".encode()).hexdigest(), 16) % 100 < percent


def stable_order(keys, namespace: str) -> list:
    return sorted(keys, key=lambda k: hashlib.md5(f"{namespace}/order:{k}".encode()).hexdigest())


class BuildState:
    """The state of one build: its output folder, the pairs and test lists so far; ``limit`` caps each source."""

    def __init__(self, out: Path, *, limit: int | None = None, log=print) -> None:
        self.out, self.limit, self.log = Path(out), limit, log
        self.train: list[dict] = []
        self.splits: dict[str, list] = {}
        self.counts: dict[str, dict] = {}
        self.sounds_test: dict[str, list[str]] = defaultdict(list)  # label -> media paths
        self.sounds_train: dict[str, list[str]] = defaultdict(list)
        self.label_text: dict[str, str] = {}
        self.clipart_test: dict[str, str] = {}  # title -> media path
        self.clipart_train: dict[str, list[str]] = {}
        self.instrument_clips: list[dict] = []
        self.av_test_images: dict[str, list[str]] = {}  # keyword -> clip art of that animal/instrument
        self.av_train_images: dict[str, list[str]] = {}
        self.acm_stats: dict[str, dict] = {}

    def cap(self, items: list) -> list:
        return items[: self.limit] if self.limit else items

    def media(self, rel: str) -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def copy(self, source: Path, rel: str) -> str:
        shutil.copyfile(source, self.media(rel))
        return rel

    def task(self, name: str, dataset_id: str, queries: list[dict], pool: list[dict]) -> None:
        for i, q in enumerate(queries):
            q["qid"] = f"{dataset_id}:{i}"
        queries = [q for q in queries if q["pos_cand_list"]]
        if not queries or not pool:
            self.log(f"  offline_{name}: skipped (no queries with a positive at this size)")
            return
        write_task(self.out, f"offline_{name}", "test", queries, pool)
        self.counts[f"offline_{name}"] = {"queries": len(queries), "candidates": len(pool)}
        self.log(f"  offline_{name}: {len(queries)} queries, {len(pool)} candidates")

    def pair(self, dataset: str, task: str, query: dict, positive: dict, pid: str) -> None:
        self.train.append({"dataset": dataset, "task": task, "query": query, "positive": positive, "id": pid})


def count_by(rows: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r[key]] += 1
    return dict(sorted(out.items()))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
