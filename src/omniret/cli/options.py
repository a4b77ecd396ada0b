"""Options several commands share: where the index is (``--db``, ``--storage-option``) and how long a
writer waits for another (``--lock-timeout``)."""

from __future__ import annotations

import typer

from omniret.errors import InputError
from omniret.index.store import lock_timeout

DB_HELP = (
    "Index: a directory (LanceDB, embedded), or an object-store URI (s3://bucket/prefix, gs://, az://) "
    "reached with --storage-option."
)
STORAGE_HELP = (
    "KEY=VALUE for an object-store --db or PATHS (Lance's keys: aws_endpoint, aws_region, allow_http, ...; "
    "the AWS_*/GOOGLE_*/AZURE_* variables work too). Never written into the index."
)
LOCK_TIMEOUT_HELP = (
    "Seconds to wait for another writer of the index (`omniret index`, delete, calibrate) to finish "
    "before giving up with an error (exit 1); 'inf' waits for ever."
)


def _lock_timeout(value: float) -> float:
    try:
        return lock_timeout(value)
    except ValueError as err:
        raise InputError(f"--lock-timeout (or $OMNIRET_LOCK_TIMEOUT): {err}") from None


def db_option(must_exist: bool = True):
    return typer.Option("omniret-db", "--db", help=DB_HELP + (" Must exist." if must_exist else ""))


def storage_option():
    return typer.Option(None, "--storage-option", help=STORAGE_HELP)


def lock_timeout_option():
    return typer.Option(10.0, "--lock-timeout", envvar="OMNIRET_LOCK_TIMEOUT", help=LOCK_TIMEOUT_HELP,
                        callback=_lock_timeout)  # fmt: skip


def pairs(items: list[str] | None, flag: str) -> dict:
    """``["k=v", ...]`` -> ``{"k": "v"}``; anything else is refused naming the flag."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} {item!r} must look like key=value")
        out[key] = value
    return out
