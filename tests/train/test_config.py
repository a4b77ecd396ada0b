"""omniret.train.config: one YAML per run with strict keys and ``a.b=c`` overrides; every refusal names
the file and the dotted key. (Each out-of-range value is listed in tests/test_input_refusals.py.)"""

from __future__ import annotations

import pytest
import yaml

from omniret.config import ConfigError
from omniret.train.config import TrainConfig, load_train_config
from omniret.train.objectives import CurriculumConfig
from tests.helpers.builders import config


def test_config_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("stepz: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'stepz'"):
        load_train_config(tmp_path / "bad.yaml")


def test_float_fields_accept_yaml_exponents(tmp_path, dataset):
    cfg = config(tmp_path, dataset, optim={"lr": "1e-4"})
    assert cfg.optim.lr == 1e-4
    with pytest.raises(ConfigError, match=r"optim\.lr: expected float"):
        config(tmp_path, dataset, optim={"lr": "fast"})


def test_an_empty_file_is_the_defaults_and_overrides_reach_the_nested_configs(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("")
    assert load_train_config(path) == TrainConfig()
    path.write_text(yaml.safe_dump({"steps": 50, "data": {"pairs": ["a.jsonl"]},
                                    "negatives_curriculum": {"start": 10, "ramp": 5, "weight": 0.5}}))  # fmt: skip
    cfg = load_train_config(
        path, ["optim.lr=0.002", "data.pairs=[b.jsonl, c.jsonl]", "modality_temperature.TI=0.05"]
    )
    assert (cfg.steps, cfg.optim.lr, cfg.data.pairs) == (50, 0.002, ["b.jsonl", "c.jsonl"])
    assert cfg.negatives_curriculum == CurriculumConfig(start=10, ramp=5, weight=0.5)
    assert (
        cfg.modality_temperature == {"TI": 0.05}
        and cfg.optim.warmup_steps == TrainConfig().optim.warmup_steps
    )


def test_a_refusal_names_the_file_before_the_key(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  tasks_per_batch: 0\n")
    with pytest.raises(
        ConfigError, match=r"training config .*run\.yaml: data\.tasks_per_batch must be positive, got 0"
    ):
        load_train_config(path)
    with pytest.raises(ConfigError, match=r"training config .*run\.yaml: stage must be 1 or 2, got 3"):
        load_train_config(path, ["data.tasks_per_batch=1", "stage=3"])
