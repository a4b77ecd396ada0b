"""``cli/main.py``: the ``omniret`` console script is the root group with every command module
registered on it."""

from __future__ import annotations

import importlib.metadata

import pytest
from typer.testing import CliRunner

from omniret.cli.main import app, main
from omniret.version import __version__

COMMANDS = ["models", "presets", "config", "params", "index", "search", "delete", "stats", "calibrate", "train",
            "ablate", "train-dual", "demo", "eval", "bench", "cache"]  # fmt: skip


def test_every_command_group_is_registered():
    for cmd in COMMANDS:
        out = CliRunner().invoke(app, [cmd, "--help"])
        assert out.exit_code == 0 and f"Usage: omniret {cmd}" in out.output, (cmd, out.output)
    out = CliRunner().invoke(app, ["no-such-command"])
    assert out.exit_code == 2 and "No such command 'no-such-command'" in out.output


def test_the_console_script_runs_main():
    (script,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "omniret"]
    assert script.value == "omniret.cli.main:main" and script.load() is main


def test_main_runs_the_root_group_on_sys_argv(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["omniret", "--version"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0 and capsys.readouterr().out == f"omniret {__version__}\n"
