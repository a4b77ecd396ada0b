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


def read_mbeir_pairs(root: str | Path, *, split: str = "train", pattern: str = "*") -> list[Pair]:
    """M-BEIR training files -> pairs: one per (query, positive candidate) of query/{split}/mbeir_*_{split}.jsonl.

    Positives are looked up in the task's local pool and in the union pool
    ``cand_pool/global/mbeir_union_{split}_cand_pool.jsonl`` (how the released train split ships).
    ``dataset`` is the qid's dataset id, ``task`` the modality signature; every prompt of the
    instruction TSV row is a candidate instruction, drawn at random per step (METHOD.md §8.2).
    """
    from omniret.eval.mbeir import candidate_input, query_input, read_instructions, read_pool, read_queries

    root = Path(root)
    qdir = root / "query" / split
    if not qdir.is_dir():
        raise ConfigError(f"{qdir} not found: expected an M-BEIR layout under {root}")
    union_file = root / "cand_pool" / "global" / f"mbeir_union_{split}_cand_pool.jsonl"
    union = {c.did: c for c in read_pool(union_file)} if union_file.is_file() else {}
    prompts = read_instructions(root)
    out = []
    for qfile in sorted(qdir.glob(f"mbeir_{pattern}_{split}.jsonl")):
        local = root / "cand_pool" / "local" / qfile.name.replace(f"_{split}.jsonl", "_cand_pool.jsonl")
        pool = {**union, **({c.did: c for c in read_pool(local)} if local.is_file() else {})}
        for q in read_queries(qfile):
            dataset = q.qid.split(":", 1)[0]
            for did in q.pos_cand_list:
                if did not in pool:
                    raise ConfigError(f"{qfile}: positive {did} of query {q.qid} is in no candidate pool")
                c = pool[did]
                query, positive = _side(query_input(root, q)), _side(candidate_input(root, c))
                out.append(Pair(dataset=dataset, task=f"{_modality(query)}->{_modality(positive)}", query=query,
                                positive=positive, id=did,
                                instructions=tuple(prompts.get((dataset, q.modality, c.modality), ()))))  # fmt: skip
    if not out:
        raise ConfigError(f"{root}: no M-BEIR {split} pairs matching {pattern!r}")
    return out


def _side(x) -> dict:
    """An OmniInput's content fields as a pair side (paths as strings)."""
    return {k: str(v) for k in ("text", *MEDIA_KEYS) if (v := getattr(x, k)) is not None}
