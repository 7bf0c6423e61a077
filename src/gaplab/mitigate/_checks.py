"""Parameter checks run at ``fit`` time (``__init__`` only stores, as in scikit-learn)."""

from __future__ import annotations

import numbers
from typing import Any

from .._errors import ConfigError


def check_bool(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, (bool,)) and type(value).__name__ != "bool_":
        raise ConfigError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


def check_real(
    value: Any, name: str, where: str, *, low: float | None = None, high: float | None = None,
    low_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: {name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        bound = ">" if low_open else ">="
        raise ConfigError(f"{where}: {name} must be {bound} {low}, got {value!r}")
    if high is not None and v > high:
        raise ConfigError(f"{where}: {name} must be <= {high}, got {value!r}")
    return v


def check_int(value: Any, name: str, where: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{where}: {name} must be an integer, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"{where}: {name} must be {rng}, got {value!r}")
    return v


def check_choice(value: Any, name: str, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return str(value)
