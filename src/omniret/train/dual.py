"""Training the dual-encoder baseline (omniret.baselines.dual): seconds on cached, mean-pooled tower features.

docs/METHOD_NOTES.md, Feasibility (b): LN -> 1024 GELU MLP -> 384 per media family, symmetric InfoNCE
(T = 0.05) against frozen MiniLM sentence embeddings, AdamW lr 1e-3 / wd 0.01, batch 256, early
stopping on held-out pairs (it overfits within a minute). Batches hold one task each, so a
query's negatives are candidates of its own modality, and pairs sharing an id never compete.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from pathlib import Path

import torch

from omniret.baselines.dual import DualEncoder, build_heads, save_dual, seed_all
from omniret.config import ConfigError, load_config
from omniret.inputs.modality import MODALITY_NAMES
from omniret.losses import hard_negative_infonce
from omniret.train.data import Pair, read_pairs

SINGLE = MODALITY_NAMES


def usable(p: Pair) -> bool:
    """Single-field sides, at least one of them media: what a dual encoder can learn from."""
    sides = (p.query, p.positive)
    return all(len(s) == 1 and next(iter(s)) in SINGLE for s in sides) and any("text" not in s for s in sides)


class FeatureTable:
    """Every distinct side of the pairs, embedded once: text -> fixed MiniLM row, media -> pooled tower row."""

    def __init__(self, enc: DualEncoder, pairs: list[Pair], *, log=print) -> None:
        self.enc, self.rows = enc, {}
        by_field = defaultdict(set)
        for p in pairs:
            for s in (p.query, p.positive):
                ((field, value),) = s.items()
                by_field[field].add(str(value))
        for field, values in by_field.items():
            values = sorted(values)
            t0 = time.time()
            if field == "text":
                embs = enc.text_model()(values)
                self.rows.update({("text", v): e for v, e in zip(values, embs, strict=True)})
            else:
                for v, f in zip(values, enc.pooled(field, values), strict=True):
                    self.rows[(field, v)] = f
            log(f"dual-encoder features: {len(values)} {field} in {time.time() - t0:.0f} s")

    def embed(self, sides: list[dict]) -> torch.Tensor:
        """Pair sides -> (n, 384): text rows as stored, media through the (training) heads."""
        out = []
        for s in sides:
            ((field, value),) = s.items()
            row = self.rows[(field, str(value))]
            out.append(row if field == "text" else self.enc.head(field, row))
        return torch.stack(out)


def split_holdout(pairs: list[Pair], frac: float = 0.1) -> tuple[list[Pair], list[Pair]]:
    """Held-out pairs by id hash (all pairs of an id on one side), for early stopping."""

    def held(p: Pair) -> bool:
        return int(hashlib.md5(f"dual:{p.id}".encode()).hexdigest(), 16) % 1000 < frac * 1000

    return [p for p in pairs if not held(p)], [p for p in pairs if held(p)]


def recall_at_1(table: FeatureTable, pairs: list[Pair]) -> float:
    """Mean over tasks of in-task R@1 (each task's held-out positives form its pool)."""
    by_task = defaultdict(list)
    for p in pairs:
        by_task[p.task].append(p)
    scores = []
    with torch.no_grad():
        for task_pairs in by_task.values():
            q = table.embed([p.query for p in task_pairs])
            c = table.embed([p.positive for p in task_pairs])
            ids = [p.id for p in task_pairs]
            best = (q @ c.T).argmax(1).tolist()
            scores.append(sum(ids[b] == ids[i] for i, b in enumerate(best)) / len(task_pairs))
    return sum(scores) / max(1, len(scores))


def train_dual(pair_files: list[str], out: Path, *, steps: int = 2000, batch: int = 256, lr: float = 1e-3,
               temperature: float = 0.05, eval_every: int = 50, seed: int = 0, cache=None, log=print) -> dict:  # fmt: skip
    seed_all(seed)
    if steps < 1 or batch < 2:
        raise ConfigError(f"train_dual needs steps >= 1 and batch >= 2, got steps={steps}, batch={batch}")
    pairs = [p for f in pair_files for p in read_pairs(f) if usable(p)]
    if not pairs:
        raise ConfigError(f"no single-modality media<->text (or media<->media) pairs in {pair_files}")
    train, held = split_holdout(pairs)

    towers = load_config("omniret-small").towers
    heads = build_heads({k: t.dim for k, t in towers.items()})
    enc = DualEncoder(heads, cache=cache)
    table = FeatureTable(enc, pairs, log=log)
    by_task = defaultdict(list)
    for p in train:
        by_task[p.task].append(p)
    tasks, rng = sorted(by_task), random.Random(seed)
    opt = torch.optim.AdamW(heads.parameters(), lr=lr, weight_decay=0.01)
    best = (-1.0, 0, None)
    t0 = time.time()
    for step in range(1, steps + 1):
        heads.train()
        task_pairs = by_task[rng.choice(tasks)]
        chosen, seen = [], set()
        for p in rng.sample(task_pairs, len(task_pairs)):
            if p.id not in seen:
                chosen.append(p)
                seen.add(p.id)
            if len(chosen) == batch:
                break
        if len(chosen) < 2:
            continue
        q, c = table.embed([p.query for p in chosen]), table.embed([p.positive for p in chosen])
        loss = hard_negative_infonce(q, c, temperature=temperature, beta=0.0, symmetric=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            heads.eval()
            r1 = recall_at_1(table, held)
            if r1 > best[0]:
                best = (r1, step, {k: v.clone() for k, v in heads.state_dict().items()})
    if best[2] is None:
        raise ConfigError(f"no task in {pair_files} has two training pairs with different ids to contrast")
    heads.load_state_dict(best[2])
    meta = {"model_id": out.name, "preset": "omniret-small", "dim": 384, "hidden": 1024,
            "tower_dims": {k: t.dim for k, t in towers.items()}, "pairs": [str(f) for f in pair_files],
            "train_pairs": len(train), "heldout_pairs": len(held), "best_step": best[1],
            "heldout_recall_at_1": round(best[0], 4), "steps": steps, "batch": batch, "lr": lr,
            "temperature": temperature, "seed": seed, "train_seconds": round(time.time() - t0, 1),
            "recipes": enc.recipes}  # fmt: skip
    save_dual(heads, out, meta)
    log(f"dual-encoder: best held-out R@1 {best[0]:.3f} at step {best[1]}; saved to {out}")
    return meta
