"""``cli/app.py``, the root command: every error of every subcommand ends as one line and an exit code
(2: bad input, 1: runtime failure or internal error), ``--debug`` or ``OMNIRET_DEBUG`` let the
traceback through, ``--version`` names the version. A failing ``cache info`` stands in for any command."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

import omniret.cli.app as app_mod
import omniret.cli.cache as cache_mod
from omniret.cli.main import app
from omniret.errors import BusyError, InputError, OmniretError
from omniret.version import __version__


@pytest.fixture
def failing(monkeypatch):
    """``fail(err)``: the next ``omniret cache info`` raises ``err``; debug mode starts off."""
    monkeypatch.setattr(app_mod, "_DEBUG", False)
    monkeypatch.delenv("OMNIRET_DEBUG", raising=False)

    def fail(err: BaseException) -> None:
        def raise_it(*_a, **_k):
            raise err

        monkeypatch.setattr(cache_mod, "FeatureCache", raise_it)

    return fail


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_version_prints_the_package_version():
    out = run("--version")
    assert out.exit_code == 0 and out.output == f"omniret {__version__}\n"


@pytest.mark.parametrize(("err", "code"), [(InputError("bad --dir"), 2), (BusyError("locked"), 1),
                                           (OmniretError("failed"), 1)])  # fmt: skip
def test_an_omniret_error_is_one_line_with_its_exit_code(failing, err, code):
    failing(err)
    out = run("cache", "info")
    assert (out.exit_code, out.output) == (code, f"omniret: error: {err}\n")


def test_a_multi_line_message_is_joined_into_one_line_and_a_huge_one_cut(failing):
    failing(InputError("first line\n   second\tline  "))
    assert run("cache", "info").output == "omniret: error: first line second line\n"
    failing(InputError("x" * 5000))
    assert run("cache", "info").output == "omniret: error: " + "x" * 2000 + " ...\n"


def test_any_other_exception_is_an_internal_error_asking_for_a_report(failing):
    failing(KeyError("weights_hash"))
    out = run("cache", "info")
    assert out.exit_code == 1
    assert out.output == ("omniret: internal error: KeyError: 'weights_hash' (run with --debug for the traceback "
                          "and please report it)\n")  # fmt: skip


@pytest.mark.parametrize("how", ["--debug", "OMNIRET_DEBUG=1"])
def test_debug_lets_the_exception_through(failing, monkeypatch, how):
    failing(InputError("bad --dir"))
    if how == "--debug":
        out = run("--debug", "cache", "info")
    else:
        monkeypatch.setenv("OMNIRET_DEBUG", "1")
        out = run("cache", "info")
    assert isinstance(out.exception, InputError) and "omniret: error" not in out.output


def test_omniret_debug_0_means_off(failing, monkeypatch):
    monkeypatch.setenv("OMNIRET_DEBUG", "0")
    failing(InputError("bad --dir"))
    assert run("cache", "info").output == "omniret: error: bad --dir\n"


def test_usage_errors_stay_clicks_own_with_exit_code_2():
    out = run("cache", "info", "--no-such-option")
    assert out.exit_code == 2 and "No such option: --no-such-option" in out.output


def test_the_cli_never_reaches_a_model_hub(monkeypatch, tmp_path):
    """The root command sets the Hugging Face offline switches unless the user set them."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # the user's own choice is kept
    assert run("cache", "info", "--dir", str(tmp_path)).exit_code == 0
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "0"
