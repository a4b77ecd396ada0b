"""JSON Lines, read one way everywhere (training pairs, M-BEIR files, clip lists): every problem is
an error naming ``file:line`` and what was expected, raised as the caller's error class."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from omniret.errors import InputError


def read_jsonl(path: str | Path, *, error: type[Exception] = InputError, not_found: type[Exception] | None = None,
               required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:  # fmt: skip
    """(line number, object) per non-blank line, each holding the ``required`` fields.

    A missing file raises ``not_found`` (default ``error``); unreadable bytes, invalid JSON, a value
    that is not an object and a missing field raise ``error`` with ``path:line``."""
    path = Path(path)
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise (not_found or error)(f"{path} not found") from None
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror or err})") from None
    with f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise error(f"{path}:{n}: not UTF-8 text (byte {err.start})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise error(f"{path}:{n}: not valid JSON ({err.msg})") from None
            except RecursionError:
                raise error(f"{path}:{n}: not valid JSON (nested too deeply)") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in required if k not in row]
            if missing:
                raise error(f"{path}:{n}: missing field(s) {', '.join(missing)}")
            yield n, row
