"""Server settings: limits and the API key file are checked at start-up."""

from __future__ import annotations

import pytest

from omniret.errors import InputError
from omniret.serve import ServeSettings, read_api_key
from tests.serve.conftest import KEY


def test_settings_refuse_bad_limits_and_keys(tmp_path):
    with pytest.raises(InputError, match="max_items must be positive"):
        ServeSettings(db=tmp_path, max_items=0)
    with pytest.raises(InputError, match="at least 8 characters"):
        ServeSettings(db=tmp_path, api_key="short")
    (tmp_path / "key").write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_api_key(tmp_path / "key")
    (tmp_path / "key").write_text(f"{KEY}\nignored\n")
    assert read_api_key(tmp_path / "key") == KEY
    assert ServeSettings(db=tmp_path / "db").uploads == tmp_path / "db-uploads"
