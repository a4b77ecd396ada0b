"""Training pairs (our JSONL manifest) and the paper's task-balanced batch sampler.

A pair line: ``{"dataset": "clipart", "task": "TI", "query": {"text": ...}, "positive": {"image": ...},
"id": "clipart:banana"}`` with media paths relative to the benchmark root (the directory above the
pairs file's ``train/``). ``id`` names the positive: pairs sharing it are never each other's negatives.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from omniret.config import ConfigError

MEDIA_KEYS = ("image", "audio", "video")


@dataclass
class Pair:
    dataset: str
    task: str
    query: dict
    positive: dict
    id: str
    instructions: tuple[str, ...] = ()


def read_pairs(path: str | Path, *, instructions: dict | None = None) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training pairs file not found: {path}")
    root = path.parent.parent if path.parent.name == "train" else path.parent
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pair = Pair(dataset=row["dataset"], task=row["task"], query=_resolve(row["query"], root),
                        positive=_resolve(row["positive"], root), id=str(row["id"]))  # fmt: skip
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ConfigError(f"{path}:{n}: expected dataset, task, query, positive, id ({err})") from None
        if instructions:
            key = (pair.dataset, _modality(pair.query), _modality(pair.positive))
            pair.instructions = tuple(instructions.get(key, ()))
        out.append(pair)
    if not out:
        raise ConfigError(f"{path}: no training pairs")
    return out


def _resolve(side: dict, root: Path) -> dict:
    return {k: (str(root / v) if k in MEDIA_KEYS else v) for k, v in side.items()}


def _modality(side: dict) -> str:
    return ",".join(sorted(k for k in side if k in (*MEDIA_KEYS, "text")))


def instruction_table(tsv: str | Path) -> dict[tuple[str, str, str], list[str]]:
    """(dataset name, query modality, candidate modality) -> prompts from an M-BEIR instructions file."""
    import csv

    with Path(tsv).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    table = {}
    for r in rows:
        q = ",".join(sorted(r["query_modality"].split(",")))
        c = ",".join(sorted(r["cand_modality"].split(",")))
        table[(r["dataset_name"], q, c)] = [r[k] for k in sorted(r) if k.startswith("prompt") and r[k]]
    return table


class TaskBalancedSampler:
    """Each batch: K tasks uniformly without replacement, one (or more) dataset per task uniformly,
    ``per_task`` pairs from it. Deterministic in (seed, step), so a resumed run draws the same batches."""

    def __init__(self, pairs: list[Pair], *, tasks_per_batch: int, per_task: int, datasets_per_task: int = 1,
                 unique_positives: bool = True, seed: int = 0) -> None:  # fmt: skip
        self.index: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, p in enumerate(pairs):
            self.index[p.task][p.dataset].append(i)
        if not self.index:
            raise ConfigError("the sampler got no pairs")
        self.pairs, self.seed = pairs, seed
        self.k = min(tasks_per_batch, len(self.index))
        self.per_task, self.datasets_per_task, self.unique = per_task, datasets_per_task, unique_positives

    def batch(self, step: int) -> list[int]:
        rng = random.Random(self.seed * 1_000_003 + step)
        out = []
        for task in rng.sample(sorted(self.index), self.k):
            datasets = sorted(self.index[task])
            for ds in rng.sample(datasets, min(self.datasets_per_task, len(datasets))):
                out += self._draw(
                    rng, self.index[task][ds], self.per_task // min(self.datasets_per_task, len(datasets))
                )
        return out

    def _draw(self, rng: random.Random, idx: list[int], n: int) -> list[int]:
        order = rng.sample(idx, len(idx))
        if not self.unique:
            return order[:n]
        seen, out = set(), []
        for i in order:
            if self.pairs[i].id not in seen:
                seen.add(self.pairs[i].id)
                out.append(i)
                if len(out) == n:
                    break
        return out
