"""``--engine ray`` with the driver SIGKILLed mid-job (its local Ray with it), then re-run: the table
equals an uninterrupted embedded run, with no lost and no duplicated rows. Slow (two Ray start-ups and
three model loads in subprocesses): ``make test-slow``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from omniret.index import Index
from tests.index.conftest import rows

pytest.importorskip("ray")
pytest.importorskip("lancedb")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="process groups, SIGKILL")]


def test_a_killed_driver_re_run_finishes_with_no_lost_and_no_duplicated_rows(folder, tmp_path, ckpt):
    base = [sys.executable, "-m", "omniret.cli.main", "index", str(folder), "--model", str(ckpt), "--quiet",
            "--batch-files", "1"]  # fmt: skip
    ray_cmd = [*base, "--engine", "ray", "--db", str(tmp_path / "killed")]
    env = {**os.environ, "OMNIRET_CACHE_DIR": str(tmp_path / "cache"), "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(ray_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            start_new_session=True)  # its own process group: the driver and its local Ray  # fmt: skip
    commits = 0
    try:
        for line in proc.stdout:
            commits += line.startswith("committed")
            if commits == 3:
                os.killpg(proc.pid, signal.SIGKILL)  # the driver, and every Ray process it started
                break
    finally:
        proc.wait(timeout=120)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert commits == 3 and proc.returncode == -signal.SIGKILL
    partial = Index(tmp_path / "killed").store.table().count_rows()
    assert 0 < partial < 10  # killed mid-job: some files committed, not all
    again = subprocess.run(
        ray_cmd, env=env, capture_output=True, text=True, timeout=600, start_new_session=True
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "unchanged 3" in again.stdout  # the committed files were not redone
    subprocess.run([*base, "--db", str(tmp_path / "clean")], check=True, env=env, capture_output=True)
    killed, clean = rows(Index(tmp_path / "killed", model="x")), rows(Index(tmp_path / "clean", model="x"))
    assert [r[:2] for r in killed] == [r[:2] for r in clean] and len(clean) == 10
    np.testing.assert_allclose([r[2] for r in killed], [r[2] for r in clean], atol=1e-5)
