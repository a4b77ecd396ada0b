"""``omniret train CONFIG.yaml [a.b=c ...]``.

Errors reach the root command's handler (omniret.cli.app) as one line: a bad config, key, quota or
pairs file exits 2 naming the file or key; a corrupted checkpoint or a non-finite loss exits 1
naming the file or step (nothing is saved then; OUT/last stays the last good checkpoint).
"""

from __future__ import annotations

import typer

from omniret.errors import InputError
from omniret.inputs.cache import FeatureCache
from omniret.train.ablate import markdown, run_ablations
from omniret.train.config import load_train_config
from omniret.train.dual import train_dual as run
from omniret.train.loop import Trainer


def train(
    config: str = typer.Argument(..., help="Training YAML (see configs/)."),
    overrides: list[str] = typer.Argument(None, help="Overrides like optim.lr=1e-3 steps=200."),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Do not check the weights hash of a starting checkpoint or of OUT/last."
    ),
) -> None:
    """Train OmniRet's heads (stage 1) or heads + LoRA (stage 2) on JSONL pairs; resumes from OUT/last."""

    cfg = load_train_config(config, overrides or [])
    final = Trainer(cfg, log=typer.echo, verify=not no_verify).run()
    typer.echo(f"checkpoint: {final}")


def ablate(
    config: str = typer.Argument(..., help="Training YAML (needs eval.root)."),
    budget: int = typer.Option(200, "--budget", help="Training steps per variant."),
    out: str = typer.Option("runs/ablations", "--out", help="Where variant runs and the table go."),
    only: list[str] = typer.Option(None, "--only", help="Run only these variants (names as in the table)."),
    overrides: list[str] = typer.Argument(None, help="Overrides for the base config."),
) -> None:
    """Train the paper's Table 5 variants on the same budget; write a table with ratios to the default."""
    from pathlib import Path

    if budget < 1:
        raise InputError(f"--budget must be a positive number of steps, got {budget}")
    base = load_train_config(config, overrides or [])
    Path(out).mkdir(parents=True, exist_ok=True)

    def write(rows) -> None:  # after every variant, so an interrupted run keeps its finished rows
        (Path(out) / "ABLATIONS.md").write_text(markdown(rows, budget=budget))

    rows = run_ablations(base, budget=budget, out=Path(out), names=only or None, log=typer.echo, on_row=write)
    typer.echo(markdown(rows, budget=budget))


def train_dual(
    pairs: list[str] = typer.Argument(..., help="JSONL pair files (e.g. bench/offline/train/pairs.jsonl)."),
    out: str = typer.Option(
        "runs/dual-encoder", "--out", help="Output directory (dual_encoder.json + heads)."
    ),
    steps: int = typer.Option(2000, "--steps", help="Optimiser steps (batches of one task each)."),
    batch: int = typer.Option(256, "--batch", help="Pairs per batch."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the CLIP-like dual-encoder baseline: MLP heads on mean-pooled tower features -> MiniLM space.

    Load the result anywhere a model is accepted (omniret eval --model DIR, omniret index --model DIR).
    """
    from pathlib import Path

    if steps < 1:
        raise InputError(f"--steps must be a positive number, got {steps}")
    if batch < 2:
        raise InputError(f"--batch must be at least 2 (in-batch negatives), got {batch}")
    meta = run(pairs, Path(out), steps=steps, batch=batch, seed=seed, cache=FeatureCache(), log=typer.echo)
    typer.echo(f"saved {out} (held-out R@1 {meta['heldout_recall_at_1']:.3f}, best step {meta['best_step']})")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("ablate")(ablate)
    app.command("train-dual")(train_dual)
