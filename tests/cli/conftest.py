"""Fixtures of the CLI tests: an index of four hand-made 2-d rows (``make_db``) and a fake model that
`omniret search` gets instead of loading the one the sidecar names, so no tower is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.builders import make_db

# two image rows, two text rows; the query (1, 0) scores a1 > t1 > a2 > t2, so an unfiltered top 4 mixes them


class FakeModel:
    model_id, weights_hash, dim, recipes = "synthetic", "w1", 2, {}

    def encode(self, inputs, **_):
        return np.tile(np.asarray([1.0, 0.0], np.float32), (len(inputs), 1))


@pytest.fixture
def db(tmp_path):
    pytest.importorskip("lancedb")
    make_db(tmp_path / "db")
    return tmp_path / "db"


@pytest.fixture
def fake_model(monkeypatch):
    """`omniret search` gets the fake model instead of loading the one the sidecar names."""
    from omniret.index import Index

    monkeypatch.setattr(Index, "model", property(lambda self: FakeModel()))
