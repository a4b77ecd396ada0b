"""The config machinery: strict dataclass building from plain data (every refusal names the dotted
key), field checks, overrides and YAML reading. ``omniret.config`` holds the dataclasses themselves and
re-exports these names.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from omniret.errors import InputError

C = TypeVar("C")


class ConfigError(InputError):
    """A configuration file or override is malformed; the message names the key."""


class FieldError(ConfigError):
    """A value of one field is out of range. ``from_dict`` prefixes the field with its dotted path
    (``data.tasks_per_batch``), so a message names the key as it is written in the YAML."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_fields(
    obj: Any,
    *,
    positive: tuple[str, ...] = (),
    non_negative: tuple[str, ...] = (),
    unit: tuple[str, ...] = (),
    choices: dict[str, tuple] | None = None,
) -> None:
    """Validate a config dataclass after construction (``__post_init__``): every float field finite,
    ``positive`` > 0, ``non_negative`` >= 0, ``unit`` in [0, 1], ``choices`` among the listed values.

    Values that are not plain numbers (None, or a tensor put in by ``dataclasses.replace`` during
    training) are left alone.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise FieldError(f.name, f"must be a finite number, got {value}")
    for name in positive:
        value = getattr(obj, name)
        if _number(value) and not value > 0:
            raise FieldError(name, f"must be positive, got {value!r}")
    for name in non_negative:
        value = getattr(obj, name)
        if _number(value) and not value >= 0:
            raise FieldError(name, f"must be >= 0, got {value!r}")
    for name in unit:
        value = getattr(obj, name)
        if _number(value) and not 0 <= value <= 1:
            raise FieldError(name, f"must be in [0, 1], got {value!r}")
    for name, allowed in (choices or {}).items():
        value = getattr(obj, name)
        if value not in allowed:
            raise FieldError(name, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")


# ----------------------------------------------------------------------------- loading


def from_dict(cls: type[C], data: dict[str, Any], *, where: str = "") -> C:
    """Build dataclass ``cls`` from plain data, rejecting unknown keys by their dotted name."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in names:
            raise ConfigError(
                f"unknown config key {dotted!r}; {cls.__name__} accepts: {', '.join(sorted(names))}"
            )
        kwargs[key] = _convert(hints[key], value, dotted)
    try:
        return cls(**kwargs)
    except FieldError as err:
        raise ConfigError(f"{where + '.' if where else ''}{err.field} {err.problem}") from None
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from err


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against the annotation ``tp``; every refusal names the dotted key.

    Lists and tuples must be YAML lists (a string is never read character by character), numbers
    must be finite, and a bool is not an int.
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _convert(args[0], value, where)
        for arg in args:  # e.g. str | list[str]: the first reading that fits
            try:
                return _convert(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {' or '.join(map(_type_name, args))}, got {_short(value)}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where=where)
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_short(value)}")
        if key_tp is str and (bad := [k for k in value if not isinstance(k, str)]):
            raise ConfigError(f"{where}: keys must be strings, got {bad[0]!r}")
        return {k: _convert(val_tp, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_short(value)}")
        args = typing.get_args(tp)
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            items = (
                [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)] if args else list(value)
            )
        else:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected a list of {len(args)} values, got {_short(value)}")
            items = [
                _convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
            ]
        return items if origin is list else tuple(items)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where}: expected float, got {_short(value)}") from None
        if not _number(value):
            raise ConfigError(f"{where}: expected float, got {_short(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value}")
        return float(value)
    if tp is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError(f"{where}: expected int, got {_short(value)}")
    if tp in (str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {_short(value)}")
    return value


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain, YAML-safe data (tuples become lists)."""

    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return plain(dataclasses.asdict(cfg))


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b=c`` overrides (values parsed as YAML) to nested plain data, in place."""
    import yaml

    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(data).__name__}")
    for item in overrides:
        if not isinstance(item, str):
            raise ConfigError(f"override {item!r} must be a string like 'a.b=value'")
        key, sep, raw = item.partition("=")
        parts = key.split(".")
        if not sep or not key or not all(p.strip() for p in parts):
            raise ConfigError(f"override {item!r} must look like 'a.b=value'")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a mapping")
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise ConfigError(
                f"override {item!r}: the value is not valid YAML ({_yaml_problem(err)})"
            ) from None
    return data


def _yaml_problem(err: Exception) -> str:
    """A one-line reason from a PyYAML error, with its line and column when it has them."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def read_yaml(path: str | Path, *, what: str = "config") -> Any:
    """Parse a YAML file; unreadable files, non-UTF-8 bytes and syntax errors become one ConfigError
    naming the file (and the line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{what} {path}: cannot read ({err.strerror or err})") from None
    return parse_yaml(text, f"{what} {path}")


def parse_yaml(text: str, name: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{name}: not valid YAML ({_yaml_problem(err)})") from None
    except (ValueError, TypeError, RecursionError) as err:  # e.g. a timestamp out of range
        raise ConfigError(f"{name}: not valid YAML ({err})") from None
