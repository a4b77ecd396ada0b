"""Fixtures of the index tests: the tiny checkpoint loaded once per module (a module may define its
own ``model``), and a feature cache of the test's own (``usefixtures("isolated_cache")``)."""

import pytest

from omniret.api import load_model


@pytest.fixture(scope="module")
def model(ckpt):
    return load_model(ckpt, cache=False)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))
