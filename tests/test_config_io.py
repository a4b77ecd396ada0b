"""omniret.config_io: configs are built strictly from plain data, and every refusal names the dotted key
as written in the YAML (a silently ignored typo in a training config costs hours)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from omniret.config import ModelConfig, load_config
from omniret.config_io import (
    ConfigError,
    FieldError,
    apply_overrides,
    check_fields,
    from_dict,
    read_yaml,
    to_dict,
)
from tests.conftest import tiny_config_dict


@dataclass
class Inner:
    size: int = 1
    ratio: float = 0.5
    mode: str = "a"

    def __post_init__(self) -> None:
        check_fields(self, positive=("size",), unit=("ratio",), choices={"mode": ("a", "b")})


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    pair: tuple[int, int] = (1, 2)
    files: str | list[str] = "a.jsonl"
    weights: dict[str, float] = field(default_factory=dict)
    limit: int | None = None


def test_unknown_key_is_named_with_its_path():
    data = tiny_config_dict()
    data["pooler"]["num_slice"] = 3
    with pytest.raises(ConfigError, match=r"unknown config key 'pooler\.num_slice'"):
        from_dict(ModelConfig, data)
    data = tiny_config_dict()
    data["towers"]["vision"]["colour"] = "red"
    with pytest.raises(ConfigError, match=r"'towers\.vision\.colour'"):
        from_dict(ModelConfig, data)


def test_wrong_type_is_rejected_with_the_key():
    with pytest.raises(ConfigError, match=r"resampler\.depth: expected int"):
        load_config("omniret-small", ["resampler.depth=two"])


def test_tuples_survive_round_trip_as_tuples():
    cfg = from_dict(ModelConfig, tiny_config_dict())
    assert cfg.resampler.video_grid == (2, 2, 2)
    assert to_dict(cfg)["resampler"]["video_grid"] == [2, 2, 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inner": {"size": 0}}, "inner.size must be positive, got 0"),
        ({"inner": {"ratio": 1.5}}, "inner.ratio must be in [0, 1], got 1.5"),
        ({"inner": {"mode": "c"}}, "inner.mode must be one of a, b, got 'c'"),
        ({"inner": {"size": True}}, "inner.size: expected int, got True"),  # a bool is not an int
        ({"inner": {"ratio": "1e400"}}, "inner.ratio: expected a finite number"),
        ({"inner": 3}, "inner: expected a mapping, got int"),
        ({"pair": [1]}, "pair: expected a list of 2 values, got [1]"),
        ({"pair": "12"}, "pair: expected a list, got '12'"),  # a string is never read as characters
        ({"pair": [1, "2"]}, "pair[1]: expected int, got '2'"),
        ({"files": 3}, "files: expected str or list, got 3"),
        ({"weights": {1: 2.0}}, "weights: keys must be strings, got 1"),
        ({"weights": {"TI": "fast"}}, "weights.TI: expected float, got 'fast'"),
    ],
)
def test_every_refusal_names_the_dotted_key_and_the_value(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, data)
    assert message in str(err.value)


def test_values_that_fit_are_converted_to_their_field_types():
    cfg = from_dict(Outer, {"inner": {"ratio": "1e-1", "size": 3}, "pair": [4, 5], "files": ["x", "y"],
                            "weights": {"TI": 1}, "limit": None})  # fmt: skip
    assert cfg.inner == Inner(size=3, ratio=0.1) and isinstance(cfg.inner.ratio, float)
    assert cfg.pair == (4, 5) and cfg.files == ["x", "y"] and cfg.limit is None
    assert cfg.weights == {"TI": 1.0} and isinstance(cfg.weights["TI"], float)
    assert from_dict(Outer, {"files": "one.jsonl"}).files == "one.jsonl"  # the first reading that fits


def test_field_checks_name_the_field_and_leave_non_numbers_alone():
    with pytest.raises(FieldError, match="ratio must be a finite number, got nan") as err:
        Inner(ratio=float("nan"))
    assert (err.value.field, isinstance(err.value, ConfigError)) == ("ratio", True)
    check_fields(Inner(), positive=("mode",))  # a string is not a number to compare: not refused


def test_overrides_build_nested_keys_with_yaml_values():
    data = apply_overrides({"a": {"keep": 1}}, ["a.b.c=[1, 2]", "a.d=null", "e=1e-4", "f='3'"])
    assert data == {"a": {"keep": 1, "b": {"c": [1, 2]}, "d": None}, "e": "1e-4", "f": "3"}
    with pytest.raises(ConfigError, match=r"override 'a\.keep\.x=1': 'keep' is not a mapping"):
        apply_overrides(data, ["a.keep.x=1"])
    with pytest.raises(ConfigError, match=r"override 'a=\[': the value is not valid YAML \(line 1"):
        apply_overrides(data, ["a=["])
    with pytest.raises(ConfigError, match="must look like"):
        apply_overrides(data, ["a..b=1"])


def test_unreadable_yaml_names_the_file_and_the_line(tmp_path):
    bad = tmp_path / "model.yaml"
    bad.write_bytes(b"dim: 3\n\xff\n")
    with pytest.raises(ConfigError, match=r"config .*model\.yaml: not UTF-8 text \(byte 7\)"):
        read_yaml(bad)
    bad.write_text("dim: 3\npooler: [\n")
    with pytest.raises(ConfigError, match=r"training config .*model\.yaml: not valid YAML \(line 3"):
        read_yaml(bad, what="training config")
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        read_yaml(tmp_path / "nope.yaml")
    bad.write_text("dim: 3\n")
    assert read_yaml(bad) == {"dim": 3}
