"""``omniret cache info | clear | evict``: the frozen-tower feature cache."""

from __future__ import annotations

import math

import typer

from omniret.errors import InputError
from omniret.inputs.cache import FeatureCache

cache_app = typer.Typer(help="Inspect or clear the frozen-tower feature cache.", no_args_is_help=True)
CACHE_DIR_HELP = "Cache directory (default: $OMNIRET_CACHE_DIR or ~/.cache/omniret/features)."


@cache_app.command("info")
def cache_info(directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP)) -> None:
    """Show where the cache is, how many entries it holds and how big it is."""
    st = FeatureCache(directory).stats()
    typer.echo(f"directory: {st.root}\nentries:   {st.entries}\nsize:      {st.bytes / 1e6:.1f} MB")


@cache_app.command("clear")
def cache_clear(directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP)) -> None:
    """Delete every cached feature."""
    typer.echo(f"removed {FeatureCache(directory).clear()} entries")


@cache_app.command("evict")
def cache_evict(
    max_mb: float = typer.Option(..., "--max-mb", help="Shrink the cache to at most this many MB."),
    directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP),
) -> None:
    """Delete least-recently-used entries until the cache fits in --max-mb."""
    if not math.isfinite(max_mb) or max_mb < 0:
        raise InputError(f"--max-mb must be a finite number of MB >= 0, got {max_mb}")
    freed = FeatureCache(directory).evict(int(max_mb * 1e6))
    typer.echo(f"freed {freed / 1e6:.1f} MB")
