"""omniret.extras: a feature whose optional packages are missing fails with one line naming the
extra, the missing packages and the pip command that installs them."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from omniret.errors import OmniretError
from omniret.extras import EXTRAS, MissingExtraError, missing, require


def hide(monkeypatch, *names: str) -> None:
    """``find_spec`` reports ``names`` as not installed (nothing is uninstalled)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a)
    )


def test_a_missing_extra_is_one_line_naming_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lancedb" else real(name, *a)
    )
    with pytest.raises(
        MissingExtraError,
        match=r"needs the 'index' extra \(missing: lancedb\).*pip install 'omniret\[index\]'",
    ):
        require("index", "omniret.index")
    assert require("media", "omniret.inputs.media").__name__ == "omniret.inputs.media"


def test_missing_lists_exactly_the_absent_packages_in_order(monkeypatch):
    hide(monkeypatch, "soxr", "PIL")
    assert missing("media") == ["PIL", "soxr"]  # the extra's own order
    assert missing("index") == []
    with pytest.raises(MissingExtraError) as err:
        require("media")
    assert str(err.value) == (
        "this feature needs the 'media' extra (missing: PIL, soxr); install it with: pip install 'omniret[media]'"
    )
    assert isinstance(err.value, ImportError) and isinstance(err.value, OmniretError)
    assert "\n" not in str(err.value)


def test_an_unknown_extra_is_a_programming_error_naming_the_known_ones():
    with pytest.raises(KeyError, match=re.escape(f"unknown extra 'gpu'; known: {', '.join(EXTRAS)}")):
        require("gpu")
    assert require("eval") is None  # installed here, and no module asked for


def test_every_extra_named_in_a_pip_command_is_one_the_package_declares():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout (no pyproject.toml)")
    declared = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(declared), set(EXTRAS) - set(declared)
