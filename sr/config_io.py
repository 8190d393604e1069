"""Frozen dataclasses from YAML mappings, without torch: one reader for both packages' configs.

``curator`` reads its workspace config with it, so a ``curator`` command never pays for importing
torch (``sr.training.config`` holds the training dataclasses, which need the model's).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from sr.options import check_range


class ConfigError(ValueError):
    """A config file or value is invalid; the message names the key."""


def check_ranges(config: Any, limits: dict[str, dict[str, Any]], where: str = "") -> None:
    """Raise a ConfigError naming the first field outside its limits (``check_range`` keywords).

    A tuple field must be non-empty and every item within the limits; ``None`` is left alone.
    ``below_one`` asks for a value < 1 (Adam's betas, decays, fractions of a whole).
    """
    for name, rule in limits.items():
        value = getattr(config, name)
        if value is None:
            continue
        items = value if isinstance(value, tuple) else (value,)
        if not items:
            raise ConfigError(f"{where}{name}: must not be empty")
        rule = dict(rule)
        below_one = rule.pop("below_one", False)
        for item in items:
            problem = check_range(item, **rule)
            if problem is None and below_one and item >= 1:
                problem = "must be < 1"
            if problem:
                raise ConfigError(f"{where}{name}: {problem}, got {value!r}")


def to_dict(config: Any) -> dict:
    """Plain nested dict (tuples as lists) for YAML."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return plain(config)


def from_dict(cls: type, data: dict | None, where: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict; unknown keys are an error naming the key."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}{name}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a field's own check: prefix the section (``data.``)
        raise ConfigError(f"{where}{exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping")
        return from_dict(hint, value, where + ".")
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        return _coerce(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, v, where) for v in value)
    if hint is float:
        number = _as_float(value)
        if number is None:
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return number
    if hint in (int, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where}: expected int, got {value!r}")
    return value


def _as_float(value: Any) -> float | None:
    """A YAML number as a float, also ``1e-4`` (which YAML 1.1 reads as a string); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def read_mapping(path: Path) -> dict:
    """The top-level mapping of the YAML file ``path`` (empty file: ``{}``); else a ConfigError."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
