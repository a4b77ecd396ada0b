"""Training pairs (our JSONL manifest) and the paper's task-balanced batch sampler.

A pair line: ``{"dataset": "clipart", "task": "TI", "query": {"text": ...}, "positive": {"image": ...},
"id": "clipart:banana"}`` with media paths relative to the benchmark root (the directory above the
pairs file's ``train/``). ``id`` names the positive: pairs sharing it are never each other's negatives.
``dataset`` and ``task`` are non-empty strings, ``id`` a string or an integer, each side a mapping of
one or more of text, image, audio and video to non-empty strings; other keys of a line are ignored.
Any other line is refused with the file, the line number and the field.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from omniret.config import ConfigError
from omniret.eval.mbeir import (
    candidate_input,
    instruction_rows,
    query_input,
    read_instructions,
    read_pool,
    read_queries,
)
from omniret.inputs import OmniInput
from omniret.inputs.modality import MEDIA_NAMES
from omniret.jsonl import read_jsonl

MEDIA_KEYS = MEDIA_NAMES


@dataclass
class Pair:
    dataset: str
    task: str
    query: dict
    positive: dict
    id: str
    instructions: tuple[str, ...] = ()


SIDE_KEYS = ("text", *MEDIA_KEYS)
PAIR_KEYS = ("dataset", "task", "query", "positive", "id")


def read_pairs(path: str | Path, *, instructions: dict | None = None) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training pairs file not found: {path}")
    root = path.parent.parent if path.parent.name == "train" else path.parent
    out = []
    for n, row in read_jsonl(path, error=ConfigError):
        where = f"{path}:{n}"
        missing = [k for k in PAIR_KEYS if k not in row]
        if missing:
            raise ConfigError(f"{where}: expected {', '.join(PAIR_KEYS)} (missing {', '.join(missing)})")
        for key in ("dataset", "task"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise ConfigError(f"{where}: {key} must be a non-empty string, got {_short(row[key])}")
        pid = row["id"]
        if (
            isinstance(pid, bool)
            or not isinstance(pid, (str, int))
            or (isinstance(pid, str) and not pid.strip())
        ):
            raise ConfigError(f"{where}: id must be a non-empty string or an integer, got {_short(pid)}")
        query, positive = (_check_side(row[k], f"{where}: {k}") for k in ("query", "positive"))
        pair = Pair(dataset=row["dataset"], task=row["task"], query=_resolve(query, root),
                    positive=_resolve(positive, root), id=str(pid))  # fmt: skip
        if instructions:
            key = (pair.dataset, _modality(pair.query), _modality(pair.positive))
            pair.instructions = tuple(instructions.get(key, ()))
        out.append(pair)
    if not out:
        raise ConfigError(f"{path}: no training pairs")
    return out


def _check_side(side, where: str) -> dict:
    if not isinstance(side, dict):
        raise ConfigError(
            f"{where} must be a mapping of {', '.join(SIDE_KEYS)} to strings, got {_short(side)}"
        )
    unknown = [k for k in side if k not in SIDE_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (expected {', '.join(SIDE_KEYS)})")
    if not side:
        raise ConfigError(f"{where} is empty (needs at least one of {', '.join(SIDE_KEYS)})")
    for k, v in side.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{where}.{k} must be a non-empty string, got {_short(v)}")
    return side


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve(side: dict, root: Path) -> dict:
    return {k: (str(root / v) if k in MEDIA_KEYS else v) for k, v in side.items()}


def _modality(side: dict) -> str:
    return ",".join(sorted(k for k in side if k in (*MEDIA_KEYS, "text")))


def instruction_table(tsv: str | Path) -> dict[tuple[str, str, str], list[str]]:
    """(dataset name, query modality, candidate modality) -> prompts from an M-BEIR instructions file."""
    table = {}
    for _, r, prompts in instruction_rows(Path(tsv), key="dataset_name", error=ConfigError):
        q = ",".join(sorted(r["query_modality"].split(",")))
        c = ",".join(sorted(r["cand_modality"].split(",")))
        table[(r["dataset_name"], q, c)] = prompts
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
    instruction TSV row is a candidate instruction, drawn at random per step (docs/METHOD_NOTES.md §8.2).
    """

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


def to_input(side: dict, instruction: str | None = None) -> OmniInput:
    """One side of a pair (a mapping of text/image/audio/video) as an encoder input."""
    return OmniInput(text=side.get("text"), image=side.get("image"), audio=side.get("audio"), video=side.get("video"),
                     instruction=instruction)  # fmt: skip


def modalities(side: dict) -> list[str]:
    return [k for k in ("image", "audio", "video", "text") if k in side]
