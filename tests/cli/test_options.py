"""Options shared by the commands (``cli/options.py``): key=value pairs and the lock timeout."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.cli.options import pairs
from omniret.errors import InputError
from tests.helpers.builders import refused


def test_items_are_key_value_pairs_split_at_the_first_equals_sign():
    assert pairs(["album=holiday", "note=a=b", "empty="], "--meta") == {
        "album": "holiday",
        "note": "a=b",
        "empty": "",
    }
    assert pairs(None, "--meta") == {}
    for bad in ("album", "=holiday"):
        with pytest.raises(InputError, match=f"--meta '{bad}' must look like key=value"):
            pairs([bad], "--meta")
    with pytest.raises(InputError, match="--storage-option 'region' must look like key=value"):
        pairs(["region"], "--storage-option")


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_bad_lock_timeout_is_refused_naming_the_option(tmp_path, value):
    out = CliRunner().invoke(
        app, ["delete", "--where", "true", "--db", str(tmp_path / "db"), "--lock-timeout", value]
    )
    line = refused(out, 2, "--lock-timeout (or $OMNIRET_LOCK_TIMEOUT)")
    assert "number of seconds" in line and value in line  # says what was expected and what was found
    assert not (tmp_path / "db").exists()  # refused before any index was opened or made
