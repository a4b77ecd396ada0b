"""``index/paths.py``: every path shown or stored is valid UTF-8 whatever bytes its name has, and no
file name can forge or erase a report line on a terminal."""

from __future__ import annotations

import os
from pathlib import Path

from omniret.index.paths import display, printable, terminal_safe


def test_report_lines_cannot_be_forged_by_file_names():
    from omniret.index.files import terminal_safe

    assert terminal_safe("skipped a\nadded 1\r\x1b[2K.txt: x") == "skipped a\\nadded 1\\r\\x1b[2K.txt: x"
    assert terminal_safe("café ok") == "café ok"


def test_display_writes_each_byte_that_is_not_utf8_as_an_escape():
    odd = b"/media/caf\xe9.txt"  # Latin-1: not UTF-8
    assert display(odd) == "/media/caf\\xe9.txt"
    assert display(os.fsdecode(odd)) == "/media/caf\\xe9.txt"  # the same name as Python's str
    assert display(Path(os.fsdecode(odd))) == "/media/caf\\xe9.txt"
    assert display("/media/café.txt") == "/media/café.txt"  # a UTF-8 name is kept exactly
    assert display(b"\xff\xfe") == "\\xff\\xfe"
    display(odd).encode("utf-8")  # storable: no surrogates left


def test_printable_escapes_surrogates_inside_a_message():
    name = os.fsdecode(b"caf\xe9.txt")  # the bad byte kept as a surrogate escape
    message = f"cannot read {name}: permission denied"
    assert printable(message) == "cannot read caf\\xe9.txt: permission denied"
    assert printable("plain text, café") == "plain text, café"


def test_terminal_safe_keeps_printable_text_and_escapes_every_control_character():
    assert terminal_safe("tab\there") == "tab\\there"
    assert terminal_safe("bell\x07 del\x7f") == "bell\\x07 del\\x7f"
    assert terminal_safe("日本語 ok") == "日本語 ok"
