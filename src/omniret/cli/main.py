"""The ``omniret`` command: a thin dispatcher over library functions."""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

from omniret.version import __version__

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub from the CLI
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class _OneLineErrors(TyperGroup):
    """Every ``OmniretError`` (and any other exception) ends as one line on stderr and an exit code.

    Sits on the root group, so it covers every subcommand and also ``CliRunner`` in tests; ``--debug``
    (or ``OMNIRET_DEBUG=1``) lets the traceback through instead.
    """

    def invoke(self, ctx):
        from omniret.errors import EXIT_RUNTIME, OmniretError

        try:
            return super().invoke(ctx)
        except (typer.exceptions.TyperException, typer.Exit, typer.Abort):  # usage errors: click's own
            raise
        except Exception as err:
            if _debug_requested():
                raise
            if isinstance(err, OmniretError):
                typer.echo(f"omniret: error: {_one_line(err)}", err=True)
                raise typer.Exit(err.exit_code) from None
            typer.echo(
                f"omniret: internal error: {type(err).__name__}: {_one_line(err)} "
                "(run with --debug for the traceback and please report it)",
                err=True,
            )
            raise typer.Exit(EXIT_RUNTIME) from None


_DEBUG = False


def _debug_requested() -> bool:
    return _DEBUG or os.environ.get("OMNIRET_DEBUG", "") not in ("", "0")


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 2000 else text[:2000] + " ..."


app = typer.Typer(
    name="omniret",
    cls=_OneLineErrors,
    help="Offline-first omni-modal retrieval: one model and one index for text, images, audio and video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PRESET_HELP = "Preset name (see `omniret presets`) or path to a model YAML."
OVERRIDES_HELP = "Config overrides like pooler.num_slices=1024."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"omniret {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show Python tracebacks instead of one-line errors (also OMNIRET_DEBUG=1)."
    ),
) -> None:
    """omniret command line. Exit codes: 0 success, 1 runtime failure, 2 usage or bad input."""
    global _DEBUG
    _DEBUG = debug


@app.command()
def presets() -> None:
    """List the named model presets."""
    from omniret.config import preset_names

    for name in preset_names():
        typer.echo(name)


@app.command()
def config(
    preset: str = typer.Argument("omniret-small", help=PRESET_HELP),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Print the resolved model config as YAML (after overrides)."""
    from omniret.config import dump_config

    typer.echo(dump_config(_load(preset, overrides)), nl=False)


@app.command()
def params(
    preset: str = typer.Argument("omniret-small", help=PRESET_HELP),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP),
) -> None:
    """Count total and trainable parameters per component (meta device: nothing is allocated)."""
    from rich.console import Console
    from rich.table import Table

    from omniret.params import PAPER_TRAINABLE, parameter_table

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


from omniret.cli.evaluate import eval_app  # noqa: E402

app.add_typer(eval_app, name="eval")
from omniret.cli.bench import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")
from omniret.cli.train import ablate as _ablate  # noqa: E402
from omniret.cli.train import train as _train  # noqa: E402
from omniret.cli.train import train_dual as _train_dual  # noqa: E402

app.command("train")(_train)
app.command("ablate")(_ablate)
app.command("train-dual")(_train_dual)
from omniret.cli.index import register as _register_index  # noqa: E402

_register_index(app)

cache_app = typer.Typer(help="Inspect or clear the frozen-tower feature cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
CACHE_DIR_HELP = "Cache directory (default: $OMNIRET_CACHE_DIR or ~/.cache/omniret/features)."


@cache_app.command("info")
def cache_info(directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP)) -> None:
    """Show where the cache is, how many entries it holds and how big it is."""
    from omniret.inputs.cache import FeatureCache

    st = FeatureCache(directory).stats()
    typer.echo(f"directory: {st.root}\nentries:   {st.entries}\nsize:      {st.bytes / 1e6:.1f} MB")


@cache_app.command("clear")
def cache_clear(directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP)) -> None:
    """Delete every cached feature."""
    from omniret.inputs.cache import FeatureCache

    typer.echo(f"removed {FeatureCache(directory).clear()} entries")


@cache_app.command("evict")
def cache_evict(
    max_mb: float = typer.Option(..., "--max-mb", help="Shrink the cache to at most this many MB."),
    directory: str = typer.Option(None, "--dir", help=CACHE_DIR_HELP),
) -> None:
    """Delete least-recently-used entries until the cache fits in --max-mb."""
    from omniret.inputs.cache import FeatureCache

    freed = FeatureCache(directory).evict(int(max_mb * 1e6))
    typer.echo(f"freed {freed / 1e6:.1f} MB")


@app.command()
def demo(
    db: str = typer.Option("omniret-db", "--db", help="Index directory."),
    media: str = typer.Option("demo-media", "--media", help="Where the sample media are gathered."),
    k: int = typer.Option(3, "-k", help="Results per search."),
) -> None:
    """Gather sample media from installed packages, index them, and run cross-modal searches."""
    from pathlib import Path

    from omniret.demo import run

    run(Path(db), Path(media), k=k, log=typer.echo)


def _load(preset: str, overrides: list[str] | None):
    from omniret.config import load_config

    return load_config(preset, overrides or [])  # a ConfigError is one line (exit 2) via _OneLineErrors


def _limit_malloc_arenas() -> None:
    """glibc gives every thread its own malloc arena; with torch + CTranslate2 threads and tensors of
    varying shapes, training RSS grew without bound (5.8 -> 11.8 GB in 30 steps). Two arenas keep it flat."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
        except (OSError, AttributeError):
            pass


def main() -> None:
    _limit_malloc_arenas()
    app()


if __name__ == "__main__":
    main()
