"""One exception family, so every refusal reaches the user as one line and a documented exit code.

Each area keeps its own subclasses (``MediaError``, ``ConfigError``, ``IndexMismatchError`` ...) and
the ``omniret`` command prints ``omniret: error: <message>`` for any of them, without a traceback
(``--debug`` shows it). Exit codes (docs/CLI.md):

- 0: success (a batch job that skipped bad items still succeeds; its report lists them)
- 1: a runtime failure: a lock not obtained, a missing local asset, a corrupted checkpoint,
  non-finite numbers in training, an internal error
- 2: usage or bad input: an option, file, field or config the user can fix
"""

from __future__ import annotations

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class OmniretError(Exception):
    """A problem the user can act on; the message names the file, field or option and what was expected."""

    exit_code = EXIT_RUNTIME


class InputError(OmniretError, ValueError):
    """Bad input: an option, a file, a field or a config value (exit code 2)."""

    exit_code = EXIT_USAGE


class IntegrityError(OmniretError):
    """Stored data is not what it claims to be: a weights hash mismatch, non-finite numbers."""


class BusyError(OmniretError):
    """Another process holds what this one needs (the index's write lock)."""
