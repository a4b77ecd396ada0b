"""``omniret models | presets | config | params`` (``cli/model.py``): what a model is, without loading
one. Parameter counts and overrides of the shipped presets: ``tests/test_params.py``."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from omniret.cli.main import app
from omniret.config import preset_names
from tests.conftest import tiny_config_dict
from tests.helpers.builders import refused


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_every_listed_preset_resolves_to_a_config_of_its_name():
    out = run("presets")
    names = out.output.split()
    assert out.exit_code == 0 and {"omniret-small", "omniret-paper"} <= set(names)
    for name in names:
        config = run("config", name)
        assert config.exit_code == 0 and yaml.safe_load(config.output)["name"] == name, config.output


def test_models_lists_the_presets_and_the_baselines():
    out = run("models")
    assert out.exit_code == 0
    for name in (
        "omniret-small",
        "omniret-paper",
        "bridge-caption",
        "dual-encoder",
        "random",
        "fusion:<model>",
    ):
        assert f" {name} " in out.output, name


def test_config_of_a_yaml_file_applies_overrides(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()))
    out = run("config", path, "pooler.num_slices=7", "resampler.depth=1")
    assert out.exit_code == 0, out.output
    cfg = yaml.safe_load(out.output)
    assert (cfg["name"], cfg["dim"], cfg["pooler"]["num_slices"], cfg["resampler"]["depth"]) == (
        "tiny",
        32,
        7,
        1,
    )
    assert cfg["pooler"]["num_refs"] == 6  # untouched values come from the file


def test_an_unknown_preset_names_itself_and_the_presets():
    line = refused(run("config", "omniret-huge"), 2, "'omniret-huge'", "omniret-small")
    assert all(name in line for name in preset_names())  # every preset offered
    refused(run("params", "omniret-huge"), 2, "'omniret-huge'")
