"""Paths as text: every file name shown or stored as valid UTF-8, whatever bytes it really has."""

from __future__ import annotations

import hashlib
import os


def display(path: str | bytes | os.PathLike) -> str:
    """A path as valid UTF-8 text for rows and reports: the exact name when it is UTF-8, otherwise each
    byte that is not (kept by Python as a surrogate escape) written as ``\\xNN``. Exact bytes:
    ``os.fsencode(path)``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """``text`` with any surrogate-escaped bytes (from a non-UTF-8 file name inside a message) written
    as ``\\xNN``, so it can be printed and stored."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def terminal_safe(line: str) -> str:
    """``line`` with every control character (newline, carriage return, escape, ...) written as an
    escape, so a file name cannot forge or erase report lines on a terminal or in a log."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)


def asset_id(path: str | bytes | os.PathLike) -> str:
    """16 hex digits of the sha256 of the path's exact bytes: stable across runs for any file name, and
    for a UTF-8 name the same id as before names that are not UTF-8 were supported."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
