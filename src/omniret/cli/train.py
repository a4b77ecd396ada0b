"""``omniret train CONFIG.yaml [a.b=c ...]``."""

from __future__ import annotations

import typer


def train(
    config: str = typer.Argument(..., help="Training YAML (see configs/)."),
    overrides: list[str] = typer.Argument(None, help="Overrides like optim.lr=1e-3 steps=200."),
) -> None:
    """Train OmniRet's heads (stage 1) or heads + LoRA (stage 2) on JSONL pairs; resumes from OUT/last."""
    from omniret.config import ConfigError
    from omniret.train.config import load_train_config
    from omniret.train.loop import Trainer

    try:
        cfg = load_train_config(config, overrides or [])
        final = Trainer(cfg, log=typer.echo).run()
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from None
    typer.echo(f"checkpoint: {final}")
