"""omniret.api: ``load_model`` resolves presets, shipped weights, checkpoints and YAML files, and
verifies what it loads unless told not to."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from omniret import OmniInput
from omniret.api import load_model
from omniret.checkpoint import HEADS_FILE
from omniret.errors import IntegrityError


def test_load_model_presets_shipped_weights_and_untrained_yaml():
    import json
    from importlib import resources

    from omniret.api import SHIPPED

    with pytest.raises(FileNotFoundError, match="not a preset"):
        load_model("no-such-model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shipped = load_model("omniret-small", cache=False)
    assert not any("randomly initialised" in str(w.message) for w in caught)
    manifest = json.loads((SHIPPED / "omniret-small" / "manifest.json").read_text())
    assert shipped.weights_hash == manifest["weights_hash"] and shipped.dim == 1024
    row = shipped.encode([OmniInput(text="a dog barking")])
    assert row.shape == (1, 1024) and abs(np.linalg.norm(row) - 1) < 1e-5
    yaml_preset = str(resources.files("omniret.presets").joinpath("omniret-small.yaml"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh = load_model(yaml_preset, cache=False)
    assert any("randomly initialised" in str(w.message) for w in caught)
    assert fresh.weights_hash == load_model(yaml_preset, cache=False).weights_hash  # seeded: reproducible


def test_load_model_verifies_unless_told_not_to(tiny_ckpt):
    data = bytearray((tiny_ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (tiny_ckpt / HEADS_FILE).write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        load_model(tiny_ckpt, cache=False)
    assert load_model(tiny_ckpt, cache=False, verify=False).dim == 40
