"""``omniret bench build offline | ood | acm`` (``cli/bench.py``): required options and a clips file
or ``--window`` that cannot be used are refused in one line naming them, before any model is loaded
or anything written. The builders themselves: ``tests/datasets/``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from omniret.cli.main import app
from tests.helpers.builders import refused


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def clips(path, *lines: str):
    path.write_text("".join(line + "\n" for line in lines))
    return path


CLIP = json.dumps({"id": "c1", "audio": "dog.wav", "caption": "a dog barks"})


def test_every_builder_is_listed_and_needs_out(tmp_path):
    out = run("bench", "build", "--help")
    assert out.exit_code == 0 and all(name in out.output for name in ("offline", "ood", "acm"))
    for builder in ("offline", "ood"):
        out = run("bench", "build", builder)
        assert out.exit_code == 2 and "Missing option '--out'" in out.output, builder
    out = run("bench", "build", "acm", "--out", tmp_path / "out")
    assert out.exit_code == 2 and "Missing option '--clips'" in out.output


def test_acm_refuses_a_window_that_is_not_two_numbers(tmp_path):
    path = clips(tmp_path / "clips.jsonl", CLIP)
    for window in ("0.6", "0.6,x", "0.6,0.7,0.8", ""):
        refused(run("bench", "build", "acm", "--clips", path, "--out", tmp_path / "out", "--window", window),
                2, f"--window {window!r}: expected two numbers 'lo,hi'")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_acm_names_the_clips_file_and_line_it_cannot_read(tmp_path):
    bad = clips(tmp_path / "clips.jsonl", CLIP, "not json")
    refused(
        run("bench", "build", "acm", "--clips", bad, "--out", tmp_path / "out"),
        2,
        f"{bad}:2",
        "not valid JSON",
    )
    missing = tmp_path / "nope.jsonl"
    refused(
        run("bench", "build", "acm", "--clips", missing, "--out", tmp_path / "out"),
        2,
        str(missing),
        "not found",
    )
    assert not (tmp_path / "out").exists()
