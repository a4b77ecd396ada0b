"""The root ``omniret`` command group: one-line errors, exit codes, ``--version`` and ``--debug``.

Every command module registers itself on ``app`` (see ``omniret.cli.main``); nothing here imports
a workflow, so this module stays cheap to import.
"""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

from omniret.errors import EXIT_RUNTIME, OmniretError
from omniret.version import __version__


class _OneLineErrors(TyperGroup):
    """Every ``OmniretError`` (and any other exception) ends as one line on stderr and an exit code.

    Sits on the root group, so it covers every subcommand and also ``CliRunner`` in tests; ``--debug``
    (or ``OMNIRET_DEBUG=1``) lets the traceback through instead.
    """

    def invoke(self, ctx):
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
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub from the CLI
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
