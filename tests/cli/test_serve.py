"""``omniret serve`` refuses bad options before anything is loaded or bound."""

from __future__ import annotations

from typer.testing import CliRunner

from omniret.cli.main import app


def test_help_names_every_option():
    out = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200).output
    for option in ("--db", "--model", "--host", "--port", "--api-key-file", "--allow-root", "--batch-window-ms",
                   "--max-batch", "--max-body-mb", "--max-item-mb"):  # fmt: skip
        assert option in out


def test_bad_key_file_and_port_exit_2_naming_them(tmp_path):
    empty = tmp_path / "key"
    empty.write_text("")
    r = CliRunner().invoke(app, ["serve", "--api-key-file", str(empty)])
    assert r.exit_code == 2 and f"--api-key-file {empty}: the file is empty" in r.output
    r = CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert r.exit_code == 2 and "--port must be 1..65535" in r.output
