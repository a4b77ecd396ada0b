"""``index/filters.py``: a user's ``--where`` must stay one self-contained SQL expression. Quotes and
parentheses are scanned the way LanceDB's tokenizer reads them; what could change that reading
(comments, ';', '$', '#', backslashes) is refused with the character where it was found."""

from __future__ import annotations

import pytest

from omniret.errors import EXIT_USAGE
from omniret.index.filters import FilterError, check_filter, filter_problem, quote


def test_check_filter_accepts_quoted_parentheses_and_refuses_escapes():
    assert (
        check_filter(" uri = 'a) OR (b' AND \"meta\" LIKE '%x''y%' ")
        == "uri = 'a) OR (b' AND \"meta\" LIKE '%x''y%'"
    )
    assert check_filter("(1=1) OR (t0 > 2 AND (t1 < 3))") == "(1=1) OR (t0 > 2 AND (t1 < 3))"
    for bad in ["1=1) OR (1=1", "1=1)", "(1=1", "x = 'a' ) OR ( 'b'", "1=1 -- )", "1=1 # x", 'a = "b']:
        with pytest.raises(FilterError):
            check_filter(bad)


def test_quote_doubles_single_quotes_so_a_value_stays_one_literal():
    assert quote("a1") == "'a1'"
    assert quote("O'Brien") == "'O''Brien'"
    assert quote("') OR (1=1") == "''') OR (1=1'"
    assert check_filter(f"uri = {quote('x) OR (y')}") == "uri = 'x) OR (y'"  # balanced outside the literal


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("1=1)", "')' at character 4 closes a parenthesis that was never opened"),
        ("((uri = 'a')", "1 '(' never closed"),
        ("uri = 'a", "a string opened at character 7 is never closed (expected a closing ')"),
        ('"uri = 1', "a quoted column name opened at character 1 is never closed"),
        ("uri = 'a'; x", "';' (one filter only) not allowed (at character 10)"),
        ("t0 > 1 /* x */", "SQL comments not allowed (at character 8)"),
        ("t0 > 1 -- x", "SQL comments not allowed (at character 8)"),
        ("uri = $$a$$", "'$' (dollar-quoted strings) not allowed (at character 7)"),
        ("uri = 'a\\'", "backslashes are not allowed"),
        ("uri = 'a\x00'", "NUL characters are not allowed"),
        ("   ", "is empty: expected an SQL condition"),
    ],
)
def test_a_refusal_names_what_is_wrong_and_where(where, message):
    with pytest.raises(FilterError) as err:
        check_filter(where)
    assert message in str(err.value) and repr(where) in str(err.value)
    assert err.value.exit_code == EXIT_USAGE  # bad input: the CLI exits 2


def test_characters_that_are_refused_outside_quotes_are_plain_text_inside_them():
    where = "meta LIKE '%; -- /* # $%' AND uri <> \"a;b\""
    assert check_filter(where) == where


def test_filter_problem_keeps_lancedbs_words_on_one_line_without_the_rust_location():
    class PanicException(BaseException):  # how pyo3 raises a Rust panic
        pass

    err = ValueError("Invalid user input:\n   no field named nosuchcol, /root/.cargo/registry/x.rs:12:5")
    assert filter_problem(err) == "Invalid user input: no field named nosuchcol"
    assert filter_problem(PanicException("index out of bounds, /home/ci/src/y.rs:3")) == "index out of bounds"
    assert filter_problem(ValueError("")) == "ValueError"
    assert filter_problem(ValueError("x" * 500)) == "x" * 300
    assert filter_problem(KeyError("uri")) is None and filter_problem(OSError("disk")) is None
