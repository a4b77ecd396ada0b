"""``omniret train | ablate | train-dual`` (``cli/train.py``): counts that cannot make a run are refused
in one line naming the option, before a config is read or an output directory made. Configs, pairs
files and checkpoints that are refused: ``tests/test_input_refusals.py``, ``tests/test_integrity.py``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from tests.helpers.builders import refused


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("budget", ["0", "-5"])
def test_ablate_refuses_a_budget_below_one_step(tmp_path, budget):
    out = run("ablate", tmp_path / "no-such.yaml", "--budget", budget, "--out", tmp_path / "abl")
    refused(out, 2, f"--budget must be a positive number of steps, got {budget}")
    assert not (tmp_path / "abl").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--steps", "0"], "--steps must be a positive number, got 0"),
     (["--batch", "1"], "--batch must be at least 2 (in-batch negatives), got 1")],
)  # fmt: skip
def test_train_dual_refuses_counts_that_cannot_train(tmp_path, args, words):
    out = run("train-dual", tmp_path / "pairs.jsonl", "--out", tmp_path / "dual", *args)
    refused(out, 2, words)
    assert not (tmp_path / "dual").exists()


def test_help_names_the_options():
    for cmd, options in {"train": ["--no-verify"], "ablate": ["--budget", "--out", "--only"],
                         "train-dual": ["--out", "--steps", "--batch", "--seed"]}.items():  # fmt: skip
        out = CliRunner().invoke(app, [cmd, "--help"], terminal_width=200)
        assert out.exit_code == 0 and all(f" {o} " in out.output for o in options), (cmd, out.output)
