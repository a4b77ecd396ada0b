"""omniret.jsonl: the one JSON Lines reader; every problem names file:line in the caller's error class."""

import pytest

from omniret.errors import InputError
from omniret.jsonl import read_jsonl


class Custom(ValueError):
    pass


def test_rows_keep_their_line_numbers_and_blank_lines_are_skipped(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"a": 1}\n\n  \n{"a": 2, "b": "x"}\n')
    assert list(read_jsonl(f, required=("a",))) == [(1, {"a": 1}), (4, {"a": 2, "b": "x"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n\xff\xfe\n', r"a\.jsonl:2: not UTF-8 text \(byte 0\)"),
        (b'{"a": 1}\n{"a": \n', r"a\.jsonl:2: not valid JSON"),
        (b"[1, 2]\n", r"a\.jsonl:1: expected a JSON object, got list"),
        (b'{"b": 1}\n', r"a\.jsonl:1: missing field\(s\) a"),
        (b"[" * 100_000 + b"\n", r"a\.jsonl:1: not valid JSON \(nested too deeply\)"),
    ],
)
def test_every_bad_line_is_the_callers_error_naming_file_and_line(tmp_path, content, message):
    f = tmp_path / "a.jsonl"
    f.write_bytes(content)
    with pytest.raises(Custom, match=message):
        list(read_jsonl(f, error=Custom, required=("a",)))


def test_a_missing_file_raises_not_found_or_the_error_class(tmp_path):
    class Missing(FileNotFoundError):
        pass

    with pytest.raises(Missing, match=r"nope\.jsonl not found"):
        list(read_jsonl(tmp_path / "nope.jsonl", not_found=Missing))
    with pytest.raises(InputError, match=r"nope\.jsonl not found"):
        list(read_jsonl(tmp_path / "nope.jsonl"))
