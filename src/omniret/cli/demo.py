"""``omniret demo``: gather sample media, index them, run cross-modal searches."""

from __future__ import annotations

from pathlib import Path

import typer

from omniret.demo import run


def demo(
    db: str = typer.Option("omniret-db", "--db", help="Index directory."),
    media: str = typer.Option("demo-media", "--media", help="Where the sample media are gathered."),
    k: int = typer.Option(3, "-k", help="Results per search."),
) -> None:
    """Gather sample media from installed packages, index them, and run cross-modal searches."""
    run(Path(db), Path(media), k=k, log=typer.echo)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
