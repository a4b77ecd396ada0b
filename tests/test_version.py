"""omniret.version: the version checkpoints and the CLI record is the one the package is installed as."""

from __future__ import annotations

import importlib.metadata
import re

import pytest

import omniret
from omniret.version import __version__


def test_the_version_is_the_installed_distributions():
    try:
        installed = importlib.metadata.version("omniret")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("omniret is not installed (no package metadata)")
    assert __version__ == installed


def test_the_package_exports_the_same_version_string():
    assert omniret.__version__ is __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[.-]?\w+)*", __version__), __version__  # PEP 440-like, no "v"
