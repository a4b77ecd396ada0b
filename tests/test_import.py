"""``import omniret`` loads torch and numpy only, prints nothing and opens no network connection."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import socket, sys
def _no_network(*a, **k):
    raise RuntimeError("network access during import")
socket.socket.connect = _no_network
socket.create_connection = _no_network
import numpy, torch
before = set(sys.modules)
import omniret, omniret.model, omniret.losses, omniret.config
new = sorted({m.split('.')[0] for m in set(sys.modules) - before})
sys.stderr.write(repr(new))
"""


def test_import_loads_only_torch_and_numpy_and_is_silent():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert proc.stdout == ""  # nothing printed
    assert proc.stderr == "['omniret']"  # no third-party module beyond torch + numpy (already loaded)
