"""The training loop: a plain function (setup -> train -> save), in the spirit of nanoGPT's train.py.

Frozen-tower features come from the feature cache, so CPU training never re-runs a tower after the
first epoch. Everything random is derived from (seed, step) or saved in the run state, so a resumed
run continues with exactly the loss it would have had.

Non-finite numbers stop training where they first appear (``IntegrityError`` naming the step): a
loss or gradient norm before the optimiser step, a weight after it. Nothing is saved then, so
OUT/last stays the last good checkpoint; a resume verifies OUT/last like any checkpoint load.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from omniret.checkpoint import (
    HEADS_FILE,
    is_checkpoint,
    load_checkpoint,
    nonfinite_tensors,
    read_heads,
    read_manifest,
    recorded_sha256,
    save_checkpoint,
    verify_weights,
    weights_hash,
)
from omniret.config import ConfigError, load_config, to_dict
from omniret.embedder import Embedder
from omniret.errors import IntegrityError
from omniret.inputs.cache import FeatureCache
from omniret.inputs.streams import fuse_streams
from omniret.losses import LossTerms, omniret_loss
from omniret.model import OmniRet
from omniret.progress import bar as progress_bar
from omniret.train.config import TrainConfig
from omniret.train.data import (
    Pair,
    TaskBalancedSampler,
    instruction_table,
    modalities,
    read_mbeir_pairs,
    read_pairs,
    to_input,
)
from omniret.train.dev_eval import pair_eval, quick_eval, split_dev
from omniret.train.objectives import global_share, pick_instruction, self_negative_rows, text_anchor_loss
from omniret.train.warm import run_warm_start

STATE_FILE = "trainer_state.pt"


def build_model(cfg: TrainConfig, *, verify: bool = True) -> OmniRet:
    if is_checkpoint(cfg.model):
        model = load_checkpoint(cfg.model, overrides=cfg.model_overrides, merge_lora=False, verify=verify)
    else:
        model = OmniRet.build(load_config(cfg.model, cfg.model_overrides))
    model.set_stage(cfg.stage, init_video_from_image=cfg.init_video_from_image)
    if cfg.gradient_checkpointing:
        model.composer.base_model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    return model


def param_groups(model: OmniRet, cfg: TrainConfig) -> list[dict]:
    """AdamW groups with per-module learning rates: heads at ``lr``, LoRA adapters at ``lr_lora``."""
    heads, lora = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (lora if "lora_" in name else heads).append(p)
    groups = [{"params": heads, "lr": cfg.optim.lr, "name": "heads"}]
    if lora:
        groups.append({"params": lora, "lr": cfg.optim.lr_lora, "name": "lora"})
    return groups


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine from 1 to ``min_lr_ratio``."""
    o = cfg.optim
    if step < o.warmup_steps:
        return (step + 1) / o.warmup_steps
    t = (step - o.warmup_steps) / max(1, cfg.steps - o.warmup_steps)
    return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


class Trainer:
    def __init__(self, cfg: TrainConfig, *, log=print, verify: bool = True) -> None:
        """``verify``: check the weights hash of a starting checkpoint and of OUT/last on resume."""
        self.cfg, self.log, self.verify = cfg, log, verify
        torch.manual_seed(cfg.seed)
        table = instruction_table(cfg.data.instructions) if cfg.data.instructions else None
        self.pairs: list[Pair] = [p for f in cfg.data.pairs for p in read_pairs(f, instructions=table)]
        self.pairs += [p for r in cfg.data.mbeir for p in read_mbeir_pairs(r, split=cfg.data.mbeir_split)]
        if not self.pairs:
            raise ConfigError("nothing to train on: data.pairs and data.mbeir are both empty")
        self.pairs, self.dev_pairs = split_dev(self.pairs, cfg.data.dev_fraction)
        if not self.pairs:
            raise ConfigError(f"data.dev_fraction={cfg.data.dev_fraction} holds out every training pair")
        self.model = build_model(cfg, verify=verify)
        self.embedder = Embedder(self.model, cache=FeatureCache())
        self.opt = torch.optim.AdamW(param_groups(self.model, cfg), weight_decay=cfg.optim.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, cfg))
        d = cfg.data
        self.sampler = TaskBalancedSampler(self.pairs, tasks_per_batch=d.tasks_per_batch, per_task=d.pairs_per_task,
                                           datasets_per_task=d.datasets_per_task, unique_positives=d.unique_positives,
                                           seed=cfg.seed)  # fmt: skip
        self.out = Path(cfg.out)
        self.step = 0

    # ------------------------------------------------------------------ one step

    def loss_at(self, step: int, micro: int = 0):
        """The loss of batch (step, micro), with gradients: (LossTerms, batch, extra logged terms)."""
        idx = self.sampler.batch(step * self.cfg.optim.grad_accum + micro)
        batch = [self.pairs[i] for i in idx]
        rng = random.Random(self.cfg.seed * 7919 + step * 31 + micro)
        words, mix = self.model.config.query_instructions, self.cfg.instruction_mix
        picked = [pick_instruction(p.instructions, modalities(p.positive), rng, mix, words) for p in batch]
        queries = [to_input(p.query, i) for p, i in zip(batch, picked, strict=True)]
        q_streams = self.embedder.samples(queries)
        c_streams = self.embedder.samples([to_input(p.positive) for p in batch])
        # the query's own content; never for a generic instruction, which does not say the result's
        # modality (v3 did, and its generic searches learned to avoid text: docs/RESULTS.md)
        generic = [i for i, x in enumerate(picked) if words.generic and x == words.generic]
        selfneg = [i for i in self_negative_rows(batch, rng, self.cfg.self_negatives) if i not in generic]
        c_streams += self.embedder.samples([to_input(batch[i].query) for i in selfneg])
        q_flat, c_flat = [s for g in q_streams for s in g], [s for g in c_streams for s in g]
        q_out, c_out = self.model(q_flat), self.model(c_flat)
        q, c = fuse_streams(q_out.embeddings, q_streams), fuse_streams(c_out.embeddings, c_streams)
        ids = {pid: n for n, pid in enumerate(sorted({p.id for p in batch}))}
        cand_ids = torch.tensor([ids[p.id] for p in batch] + [len(ids) + n for n in range(len(selfneg))])
        chunks = {key: n for n, key in enumerate(sorted({(p.task, p.dataset) for p in batch}))}
        groups = torch.tensor([chunks[(p.task, p.dataset)] for p in [*batch, *(batch[i] for i in selfneg)]])
        tokens = [t for t in (q_out.media_tokens, c_out.media_tokens) if t is not None]
        tokens = torch.cat(tokens) if tokens else None
        loss_cfg = self.cfg.loss
        if self.cfg.modality_temperature:
            taus = torch.tensor(
                [self.cfg.modality_temperature.get(p.task, loss_cfg.temperature) for p in batch]
            )
            loss_cfg = replace(loss_cfg, temperature=taus[:, None])  # per-query temperature (E5-Omni)
        terms = omniret_loss(q, c, tokens, loss_cfg, candidate_ids=cand_ids, groups=groups)
        extra = {}
        share = global_share(self.step, self.cfg.negatives_curriculum)
        if share > 0 and loss_cfg.negatives_scope != "global":
            wide = omniret_loss(
                q, c, tokens, replace(loss_cfg, negatives_scope="global"), candidate_ids=cand_ids
            )
            terms = LossTerms(
                **{k: (1 - share) * getattr(terms, k) + share * getattr(wide, k) for k in vars(terms)}
            )
            extra["global_share"] = share
        if selfneg:
            extra["self_negatives"] = len(selfneg)
        if self.cfg.text_anchor_weight:
            text = (
                [i for i, s in enumerate(q_flat) if not s.media],
                [i for i, s in enumerate(c_flat) if not s.media],
            )
            emb = torch.cat([q_out.embeddings[text[0]], c_out.embeddings[text[1]]])
            mean = torch.cat([q_out.mean_pooled[text[0]], c_out.mean_pooled[text[1]]])
            anchor = text_anchor_loss(emb, mean)
            terms.total = terms.total + self.cfg.text_anchor_weight * anchor
            extra["anchor"] = anchor
        return terms, batch, extra

    def train_step(self) -> dict:
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        terms = None
        for micro in range(self.cfg.optim.grad_accum):
            terms, batch, extra = self.loss_at(self.step, micro)
            if not bool(torch.isfinite(terms.total.detach()).all()):
                self._stop(
                    f"the loss is {float(terms.total.detach())}"
                    + (f" (micro-batch {micro})" if micro else "")
                )
            (terms.total / self.cfg.optim.grad_accum).backward()
        params = [p for g in self.opt.param_groups for p in g["params"]]
        grad_norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.optim.grad_clip)
        if not bool(torch.isfinite(grad_norm)):
            self._stop(f"the gradient norm is {float(grad_norm)}")
        self.opt.step()
        bad = nonfinite_tensors({n: p for n, p in self.model.named_parameters() if p.requires_grad})
        if bad:
            self._stop(
                f"the optimiser step made weight {bad[0]!r} non-finite (learning rate {self.sched.get_last_lr()[0]:g})"
            )
        self.sched.step()
        self.step += 1
        extra = {k: float(v.detach() if torch.is_tensor(v) else v) for k, v in extra.items()}
        return {"step": self.step, **terms.as_floats(), **extra, "grad_norm": float(grad_norm), "lr": self.sched.get_last_lr()[0],
                "tasks": sorted({p.task for p in batch})}  # fmt: skip

    def _stop(self, what: str, *, step: int | None = None) -> None:
        """Stop training without saving: the message names the step and the last good checkpoint."""
        step = self.step + 1 if step is None else step
        last = self.out / "last"
        if (last / STATE_FILE).is_file():
            kept = f"the last good checkpoint {last} (step {_saved_step(last)}) is kept"
        else:
            kept = "no checkpoint had been saved"
        raise IntegrityError(f"training stopped at step {step}: {what}; nothing was saved, {kept}")

    # ------------------------------------------------------------------ state

    def save(self, name: str = "last") -> Path:
        """Checkpoint + optimiser state; refused (IntegrityError) if any weight is non-finite."""
        path = save_checkpoint(self.model, self.out / name, extra={"train_step": self.step})
        state = {"step": self.step, "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                 "torch_rng": torch.get_rng_state(), "weights_hash": weights_hash(self.model)}  # fmt: skip
        tmp = path / f".{STATE_FILE}.tmp-{os.getpid()}"
        torch.save(state, tmp)
        os.replace(tmp, path / STATE_FILE)
        return path

    def resume(self) -> bool:
        path = self.out / "last"
        if not (path / STATE_FILE).is_file():
            return False
        sha256 = recorded_sha256(read_manifest(path), path) if self.verify else None
        state = read_heads(path, sha256=sha256)  # non-finite tensors are refused by name
        self.model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
        )
        try:
            run = torch.load(path / STATE_FILE, weights_only=False)
        except Exception as err:  # a truncated or foreign file
            raise IntegrityError(f"{path / STATE_FILE}: cannot read the trainer state ({err})") from None
        if self.verify:
            found = verify_weights(self.model, path, overrides=self.cfg.model_overrides)
            if run.get("weights_hash", found) != found:  # older states have no hash
                raise IntegrityError(
                    f"{path / STATE_FILE} belongs to weights {run['weights_hash']}, but {path / HEADS_FILE} "
                    f"holds {found}: the run directory mixes two saves (resume with --no-verify to accept it)"
                )
        self.opt.load_state_dict(run["optimizer"])
        self.sched.load_state_dict(run["scheduler"])
        torch.set_rng_state(run["torch_rng"])
        self.step = run["step"]
        self.log(f"resumed from {path} at step {self.step}")
        return True

    # ------------------------------------------------------------------ run

    def run(self, *, stop_at: int | None = None) -> Path:
        """Train to ``cfg.steps`` (or until ``stop_at``, as if interrupted there) and save."""
        cfg = self.cfg
        stop_at = cfg.stop_at if stop_at is None else stop_at
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "train_config.json").write_text(json.dumps(_plain(cfg), indent=1))
        resumed = self.resume()
        start = time.time()
        with (self.out / "metrics.jsonl").open("a") as log_file:
            return self._train(log_file, start, resumed=resumed, stop_at=stop_at)

    def _train(self, log_file, start: float, *, resumed: bool, stop_at: int | None) -> Path:
        cfg = self.cfg
        if not resumed and self.step == 0 and cfg.stage == 1:
            batch_at = lambda step: [self.pairs[i] for i in self.sampler.batch(10_000_019 + step)]  # noqa: E731
            for row in run_warm_start(self.model, self.embedder.samples, batch_at, cfg=cfg, log=self.log):
                log_file.write(json.dumps(row) + "\n")
        bar = _bar(cfg.steps, self.step)
        while self.step < cfg.steps:
            row = self.train_step()
            row["elapsed_s"] = round(time.time() - start, 1)
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()
            bar(self.step, row)
            if self.step % cfg.save_every == 0:
                self.save()
            if cfg.eval.every and (cfg.eval.root or self.dev_pairs) and self.step % cfg.eval.every == 0:
                self.evaluate(log_file)
                if self.dev_pairs:  # every evaluated step stays loadable: the choice is made on dev
                    self.save(f"step-{self.step}")
            if stop_at is not None and self.step >= stop_at:
                self.save()
                return self.out / "last"
            if cfg.max_minutes and time.time() - start > 60 * cfg.max_minutes:
                self.log(f"time budget of {cfg.max_minutes} min spent at step {self.step}")
                break
        self.save()
        final = self.save("final")
        if cfg.eval.root or self.dev_pairs:
            self.evaluate(log_file)
        return final

    def evaluate(self, log_file) -> dict:
        if self.dev_pairs:  # held-out training pairs: the dev split checkpoints are chosen on
            scores = pair_eval(self.embedder, self.dev_pairs)
            scores["mean"] = sum(scores.values()) / max(len(scores), 1)
        else:
            scores = quick_eval(self.embedder, self.cfg.eval)
        log_file.write(json.dumps({"step": self.step, "eval": scores}) + "\n")
        log_file.flush()
        self.log(f"step {self.step} eval: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in scores.items()))
        return scores


def _saved_step(path: Path) -> int | str:
    try:
        return int(read_manifest(path).get("train_step"))
    except (IntegrityError, TypeError, ValueError):
        return "?"


def _plain(cfg) -> dict:
    return to_dict(cfg)


def _bar(total: int, done: int):
    """The training bar with the loss terms, on a terminal only."""
    update = progress_bar(
        "training", total, enabled=sys.stderr.isatty(), unit="steps", done=done, transient=False
    )
    return lambda step, row: update(
        completed=step, description=f"loss {row['total']:.3f} (nce {row['contrastive']:.3f})"
    )
