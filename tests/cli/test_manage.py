"""``omniret delete | stats | calibrate`` (``cli/manage.py``): what they print and refuse."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from omniret.cli.main import app
from tests.helpers.builders import refused


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_stats_prints_the_index_as_json(db):
    out = run("stats", "--db", db)
    assert out.exit_code == 0, out.output
    st = json.loads(out.output)
    assert (st["rows"], st["by_modality"], st["model_id"]) == (4, {"image": 2, "text": 2}, "synthetic")


def test_delete_needs_files_or_a_filter(db):
    refused(run("delete", "--db", db), 2, "delete: give files to delete or --where")
    assert json.loads(run("stats", "--db", db).output)["rows"] == 4  # nothing was deleted


def test_calibrate_refuses_a_missing_index_and_creates_nothing(tmp_path):
    refused(run("calibrate", "--db", tmp_path / "none"), 2, "no index at --db")
    assert not (tmp_path / "none").exists()
