"""``omniret cache info | clear | evict`` (``cli/cache.py``). Counts after real puts, evict and clear:
``tests/test_params.py``; here the directory each command uses and what an empty cache reports."""

from __future__ import annotations

from typer.testing import CliRunner

from omniret.cli.main import app


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_info_of_an_empty_cache_reports_zero_and_creates_nothing(tmp_path):
    out = run("cache", "info", "--dir", tmp_path / "features")
    assert out.exit_code == 0
    assert out.output == f"directory: {tmp_path / 'features'}\nentries:   0\nsize:      0.0 MB\n"
    assert run("cache", "clear", "--dir", tmp_path / "features").output == "removed 0 entries\n"
    assert not (tmp_path / "features").exists()


def test_without_dir_the_cache_is_omniret_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "env-cache"))
    assert run("cache", "info").output.splitlines()[0] == f"directory: {tmp_path / 'env-cache'}"


def test_evict_needs_max_mb(tmp_path):
    out = run("cache", "evict", "--dir", tmp_path)
    assert out.exit_code == 2 and "Missing option '--max-mb'" in out.output
    out = run("cache", "evict", "--max-mb", "lots", "--dir", tmp_path)
    assert out.exit_code == 2 and "Invalid value for '--max-mb'" in out.output
    assert run("cache", "evict", "--max-mb", "1", "--dir", tmp_path).output == "freed 0.0 MB\n"


def test_evict_refuses_a_size_that_is_no_size(tmp_path):
    for bad in ("nan", "inf", "-1"):
        out = run("cache", "evict", "--max-mb", bad, "--dir", tmp_path)
        assert out.exit_code == 2, out.output
        assert f"--max-mb must be a finite number of MB >= 0, got {float(bad)}" in out.output
