"""``omniret models | presets | config | params``: what a model is, before anything is loaded."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from omniret.config import dump_config, load_config, preset_names
from omniret.models import list_models
from omniret.params import PAPER_TRAINABLE, parameter_table

PRESET_HELP = "Preset name (see `omniret presets`) or path to a model YAML."
OVERRIDES_HELP = "Config overrides like pooler.num_slices=1024."


def models() -> None:
    """List every model name `--model` accepts (a checkpoint directory or model YAML works too)."""
    table = Table(title="models")
    for col in ("name", "kind", "trained", "composes", "description"):
        table.add_column(col)
    for m in list_models():
        table.add_row(
            m.name, m.kind, "yes" if m.trained else "no", "yes" if m.composes else "no", m.description
        )
    Console(width=160).print(table)


def presets() -> None:
    """List the named model presets."""
    for name in preset_names():
        typer.echo(name)


def config(
    preset: str = typer.Argument("omniret-small", help=PRESET_HELP),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Print the resolved model config as YAML (after overrides)."""
    typer.echo(dump_config(_load(preset, overrides)), nl=False)


def params(
    preset: str = typer.Argument("omniret-small", help=PRESET_HELP),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Count total and trainable parameters per component (meta device: nothing is allocated)."""
    rows = parameter_table(_load(preset, overrides))
    table = Table(title=f"parameters of {preset}")
    for col in ("component", "total", "trainable stage 1", "trainable stage 2"):
        table.add_column(col, justify="left" if col == "component" else "right")
    for r in rows:
        table.add_row(r.component, f"{r.total:,}", f"{r.stage1:,}", f"{r.stage2:,}")
    s1, s2 = sum(r.stage1 for r in rows), sum(r.stage2 for r in rows)
    table.add_row("total", f"{sum(r.total for r in rows):,}", f"{s1:,}", f"{s2:,}", style="bold")
    console = Console()
    console.print(table)
    console.print(
        f"trainable: stage 1 {s1 / 1e6:.1f}M, stage 2 {s2 / 1e6:.1f}M; "
        f"the OmniRet paper reports {PAPER_TRAINABLE / 1e6:.0f}M (stage 2 / paper = {s2 / PAPER_TRAINABLE:.2f}x)"
    )


def _load(preset: str, overrides: list[str] | None):
    return load_config(preset, overrides or [])  # a ConfigError is one line (exit 2) via _OneLineErrors


def register(app: typer.Typer) -> None:
    for fn in (models, presets, config, params):
        app.command(fn.__name__)(fn)
