"""User SQL filters (``--where``): quoting, and the checks that keep ``(filter)`` one self-contained
expression, so it cannot escape the filters it is combined with (search's modality filter)."""

from __future__ import annotations

from omniret.errors import InputError


class FilterError(InputError):
    """A ``where`` filter that is malformed, or could break out of the filters it is combined with."""


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


_QUOTES = {"'": "a string", '"': "a quoted column name", "`": "a quoted column name"}
_OUTSIDE = {";": "';' (one filter only)", "--": "SQL comments", "/*": "SQL comments", "*/": "SQL comments",
            "#": "'#'", "$": "'$' (dollar-quoted strings)"}  # fmt: skip


def check_filter(where: str) -> str:
    """A user's SQL filter, checked so that ``(filter)`` is one self-contained expression before it is
    combined with another one (``modality IN (...) AND (filter)``) or used to delete rows.

    LanceDB's parser reads up to the first unmatched ``)`` (or ``;``) and ignores the rest, so
    ``1=1) OR (1=1`` would turn ``m AND (1=1) OR (1=1)`` into a filter that no longer restricts ``m``.
    Refused here: parentheses that do not balance outside quoted strings and names, an unterminated
    quote, and what could make LanceDB's tokenizer see quotes or comments differently from this scan
    (comments, ';', '$', '#', and backslashes, which some string prefixes treat as escapes). Whether
    the columns and types are right is LanceDB's to say (the caller runs it before acting on it)."""
    if not isinstance(where, str) or not where.strip():
        raise FilterError(
            f"filter {where!r} is empty: expected an SQL condition such as \"modality = 'image'\""
        )
    if "\\" in where:
        raise FilterError(
            f"filter {where!r}: backslashes are not allowed (they can change where a string ends)"
        )
    if "\x00" in where:
        raise FilterError(f"filter {where!r}: NUL characters are not allowed")
    depth, i, n = 0, 0, len(where)
    while i < n:
        c = where[i]
        if c in _QUOTES:
            end = i + 1
            while True:  # a doubled quote is the quote itself
                end = where.find(c, end)
                if end < 0:
                    raise FilterError(f"filter {where!r}: {_QUOTES[c]} opened at character {i + 1} is never "
                                      f"closed (expected a closing {c})")  # fmt: skip
                if where.startswith(c * 2, end):
                    end += 2
                    continue
                break
            i = end + 1
            continue
        bad = next((tok for tok in _OUTSIDE if where.startswith(tok, i)), None)
        if bad:
            raise FilterError(f"filter {where!r}: {_OUTSIDE[bad]} not allowed (at character {i + 1})")
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise FilterError(f"filter {where!r}: ')' at character {i + 1} closes a parenthesis that was "
                                  "never opened (expected balanced parentheses)")  # fmt: skip
        i += 1
    if depth:
        raise FilterError(f"filter {where!r}: {depth} '(' never closed (expected balanced parentheses)")
    return where.strip()


def filter_problem(err: BaseException) -> str | None:
    """LanceDB's complaint about a filter, if ``err`` is one (a ValueError, or a Rust panic that pyo3
    raises as a BaseException), in one line; None for other errors."""
    if isinstance(err, ValueError) or type(err).__name__ == "PanicException":
        text = " ".join(str(err).split())
        text = text.split(", /root/.cargo")[0].split(", /home/")[0]  # drop the Rust source location
        return text[:300] or type(err).__name__
    return None
