"""``omniret ablate``: the paper's Table 5 variants trained on one small budget, side by side."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from omniret.config import ConfigError
from omniret.train.config import TrainConfig
from omniret.train.dev_eval import quick_eval
from omniret.train.loop import Trainer

# name -> (model overrides, loss overrides, paper ratio to the default, docs/METHOD_NOTES.md §12.1)
VARIANTS: dict[str, tuple[list[str], dict, float | None]] = {
    "default (ASWP, STM)": ([], {}, 1.000),
    "single EOS vector": (["pooler.kind=eos"], {}, 0.865),
    "mean-token vector": (["pooler.kind=mean"], {}, None),
    "multi-vector (16), late interaction": (["pooler.kind=multi-vector"], {}, 0.992),
    "ASWP, mean head": (["pooler.head=mean"], {}, 0.412),
    "ASWP, max head (no straight-through)": (["pooler.head=max"], {}, 0.980),
    "ASWP, weighted head (PSWE)": (["pooler.head=weighted"], {}, 0.966),
    "no resampler (all tower tokens)": (["resampler.kind=none"], {}, 0.930),
    "separate resamplers": (["resampler.kind=separate"], {}, 0.994),
    "shared resampler, no modality latents": (["resampler.modality_latents=false"], {}, 0.992),
    "without L_div": ([], {"diversity_weight": 0.0}, 0.938),
    "without L_tri": ([], {"triplet_weight": 0.0}, 0.990),
}


@dataclass
class AblationRow:
    name: str
    recall: float
    ratio: float
    paper_ratio: float | None
    seconds: float
    error: str | None = None  # why the variant could not run (it is reported, and the others still run)


def variant_config(base: TrainConfig, name: str, budget: int, out: Path) -> TrainConfig:
    model_over, loss_over, _ = VARIANTS[name]
    cfg = copy.deepcopy(base)
    cfg.model_overrides = [*cfg.model_overrides, *model_over]
    for k, v in loss_over.items():
        setattr(cfg.loss, k, v)
    cfg.steps, cfg.max_minutes = budget, None
    cfg.optim.warmup_steps = min(cfg.optim.warmup_steps, max(1, budget // 10))
    cfg.out = str(out / _slug(name))
    cfg.eval.every = 0
    cfg.eval.root = None  # run_ablations evaluates once, after training
    cfg.save_every = budget + 1
    return cfg


def run_ablations(
    base: TrainConfig, *, budget: int, out: Path, names: list[str] | None = None, log=print, on_row=None
):
    """Train and evaluate each variant in turn; ``on_row(rows)`` sees the table after every variant."""
    import time

    if not base.eval.root:
        raise ConfigError("ablations need eval.root (an M-BEIR-format benchmark) in the config")
    rows = []
    for name in names or list(VARIANTS):
        start = time.time()
        try:
            trainer = Trainer(variant_config(base, name, budget, out), log=log)
            trainer.run()
            scores = quick_eval(trainer.embedder, base.eval)
        except Exception as err:  # e.g. "no resampler": 50 audio tokens/s overflow MiniLM's 512 positions
            rows.append(AblationRow(name, float("nan"), float("nan"), VARIANTS[name][2], time.time() - start,
                                    error=f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"))  # fmt: skip
            log(f"{name}: failed ({rows[-1].error})")
        else:
            recall = sum(scores.values()) / len(scores)
            rows.append(AblationRow(name, recall, 0.0, VARIANTS[name][2], time.time() - start))
            log(f"{name}: mean R@5 {100 * recall:.1f}")
        default = rows[0].recall or 1e-9
        for r in rows:
            r.ratio = r.recall / default
        if on_row is not None:
            on_row(rows)
    return rows


def markdown(rows: list[AblationRow], *, budget: int) -> str:
    head = (f"Each variant: {budget} training steps from the same config; mean Recall@5 over the evaluation tasks.\n\n"
            "| variant | mean R@5 | ratio to default | paper ratio (Table 5) | train + eval time |\n|---|---|---|---|---|\n")  # fmt: skip
    lines = [f"| {r.name} | {'failed: ' + r.error if r.error else f'{100 * r.recall:.1f}'} | "
             f"{'' if r.error else f'{r.ratio:.3f}'} | {'' if r.paper_ratio is None else f'{r.paper_ratio:.3f}'} "
             f"| {r.seconds / 60:.1f} min |" for r in rows]  # fmt: skip
    return head + "\n".join(lines) + "\n"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
