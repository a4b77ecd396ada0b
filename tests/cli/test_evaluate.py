"""``omniret eval mbeir`` (``cli/evaluate.py``): the cut-offs of ``--k`` parsed and checked before
any benchmark file or model is read, and one run file name per model. Scoring itself:
``tests/eval/``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from omniret.cli.evaluate import _slug, parse_ks
from omniret.cli.main import app
from omniret.errors import InputError
from tests.helpers.builders import refused


@pytest.mark.parametrize(
    ("text", "ks"),
    [("1,5,10", [1, 5, 10]), ("10", [10]), (" 5 , 1 ", [5, 1]), ("5,1,5", [5, 1]), ("1,,3,", [1, 3])],
)
def test_parse_ks_keeps_the_order_and_drops_repeats_and_blanks(text, ks):
    assert parse_ks(text) == ks


@pytest.mark.parametrize(
    ("text", "words"),
    [("0", "cut-offs must be positive, got 0 in '0'"), ("1,-5", "got -5 in '1,-5'"),
     ("1,five", "comma-separated positive integers, got '1,five'"), ("2.5", "comma-separated positive integers"),
     (",", "needs at least one cut-off, got ','"), ("", "needs at least one cut-off")],
)  # fmt: skip
def test_parse_ks_refuses_naming_the_option_and_the_value(text, words):
    with pytest.raises(InputError, match="--k") as err:
        parse_ks(text)
    assert words in str(err.value)


def test_a_bad_k_is_refused_before_the_benchmark_is_read(tmp_path):
    out = CliRunner().invoke(
        app, ["eval", "mbeir", str(tmp_path / "nowhere"), "--model", "random", "--k", "0"]
    )
    line = refused(out, 2, "--k cut-offs must be positive")  # not the missing root: -k is checked first
    assert "nowhere" not in line and not (tmp_path / "nowhere").exists()


def test_run_files_of_several_models_get_a_file_safe_name_each():
    assert _slug("omniret-small") == "omniret-small"
    assert _slug("fusion:dual-encoder") == "fusion_dual-encoder"
    assert _slug("runs/ckpt v2/last") == "runs_ckpt_v2_last"


def test_help_names_every_option():
    out = CliRunner().invoke(app, ["eval", "mbeir", "--help"], terminal_width=200)
    assert out.exit_code == 0
    for option in ("--model", "--split", "--tasks", "--k", "--out", "--run-out", "--report", "--batch-size",
                   "--cache-dir", "--pool", "--no-verify", "--geometry"):  # fmt: skip
        assert f" {option} " in out.output, option
