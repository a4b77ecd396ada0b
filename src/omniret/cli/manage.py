"""``omniret delete | stats | calibrate``: looking after an index (``omniret.index``)."""

from __future__ import annotations

import json

import typer

from omniret.cli.options import db_option, lock_timeout_option, pairs, storage_option
from omniret.errors import InputError
from omniret.index import FilterError, Index


def delete(
    paths: list[str] = typer.Argument(None, help="Files (or bucket objects: s3://…) whose rows to delete."),
    where: str = typer.Option(
        None,
        "--where",
        help="Delete rows matching this SQL filter instead (checked before anything is deleted).",
    ),
    db: str = db_option(),
    storage_option: list[str] = storage_option(),
    lock_timeout: float = lock_timeout_option(),
) -> None:
    """Delete the rows of some files (or of a filter) from the index, in one commit (its calibration
    stats are refreshed). A malformed --where deletes nothing."""

    if not paths and where is None:
        raise InputError("delete: give files to delete or --where")
    ix = Index(db, lock_timeout=lock_timeout, storage_options=pairs(storage_option, "--storage-option"))
    try:
        n = ix.delete(uris=[str(p) for p in paths or []], where=where)
    except FilterError as err:
        raise InputError(f"--where: {err}") from None
    typer.echo(f"deleted {n} rows")


def stats(db: str = db_option(), storage_option: list[str] = storage_option()) -> None:
    """Counts by modality, the model and recipe, the search mode, the ANN's measured recall and the
    per-modality calibration stats (mean and std of cosine per query and candidate modality)."""

    typer.echo(
        json.dumps(Index(db, storage_options=pairs(storage_option, "--storage-option")).stats(), indent=1)
    )


def calibrate(
    db: str = db_option(),
    storage_option: list[str] = storage_option(),
    lock_timeout: float = lock_timeout_option(),
) -> None:
    """(Re)compute the per-modality score statistics of an index (`omniret index` keeps them current;
    this is for indexes made before they existed)."""

    cal = Index(
        db, lock_timeout=lock_timeout, storage_options=pairs(storage_option, "--storage-option")
    ).calibrate()
    if cal is None:
        raise InputError(f"--db {db} holds no rows to calibrate")
    typer.echo(json.dumps(cal, indent=1))


def register(app: typer.Typer) -> None:
    for fn in (delete, stats, calibrate):
        app.command(fn.__name__)(fn)
