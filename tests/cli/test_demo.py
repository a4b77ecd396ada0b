"""``omniret demo`` (``cli/demo.py``) hands its options to ``omniret.demo.run``; what the demo itself
does: ``tests/test_demo.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import omniret.cli.demo as demo_cli
from omniret.cli.main import app


@pytest.fixture
def calls(monkeypatch):
    seen = []
    monkeypatch.setattr(demo_cli, "run", lambda db, media, *, k, log: seen.append((db, media, k)))
    return seen


def test_demo_passes_its_options_to_run(calls, tmp_path):
    out = CliRunner().invoke(
        app, ["demo", "--db", str(tmp_path / "db"), "--media", str(tmp_path / "m"), "-k", "5"]
    )
    assert out.exit_code == 0, out.output
    assert calls == [(tmp_path / "db", tmp_path / "m", 5)]


def test_demo_defaults(calls):
    assert CliRunner().invoke(app, ["demo"]).exit_code == 0
    assert calls == [(Path("omniret-db"), Path("demo-media"), 3)]


def test_demo_help_names_its_options_and_k_must_be_a_number(calls):
    out = CliRunner().invoke(app, ["demo", "--help"])
    assert out.exit_code == 0 and all(
        o in out.output for o in ("--db", "--media", "-k", "Results per search")
    )
    out = CliRunner().invoke(app, ["demo", "-k", "three"])
    assert out.exit_code == 2 and "Invalid value for '-k'" in out.output and calls == []
