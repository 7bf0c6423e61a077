r"""Schedules: pure functions from step to value (after optax), for temperatures and learning rates.

A :data:`Schedule` is any callable ``step -> float``. Constructors check their arguments at
once and return a stateless closure, so ``s(step)`` is the same number whenever it is called.
Compose instead of adding flags: :func:`join_schedules` glues schedules at step boundaries
(warm-up then fixed temperature is two joined schedules).

Shared vocabulary: ``init_value`` (value at step 0), ``end_value`` (value at ``steps`` and
after), ``steps`` (length of the transition).

>>> s = linear_schedule(0.01, 0.1, steps=10)
>>> s(0), round(s(5), 3), s(10), s(99)
(0.01, 0.055, 0.1, 0.1)

Registered names (``list_schedules()``): constant, linear, cosine, exponential, step, warmup_cosine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import ConfigError
from .._registry import Registry, option_names

__all__ = [
    "Schedule",
    "SCHEDULES",
    "list_schedules",
    "get_schedule",
    "create_schedule",
    "register_schedule",
    "constant_schedule",
    "linear_schedule",
    "cosine_schedule",
    "exponential_schedule",
    "step_schedule",
    "warmup_cosine_schedule",
    "join_schedules",
]

Schedule = Callable[[int], float]

#: schedule constructors by name (name → ``constructor(**kwargs) -> Schedule``)
SCHEDULES: Registry[Callable[..., Schedule]] = Registry("schedule")


def register_schedule(name: str) -> Callable[[Callable[..., Schedule]], Callable[..., Schedule]]:
    """Decorator adding a schedule constructor to :data:`SCHEDULES` under ``name``."""
    return SCHEDULES.register(name)


def list_schedules(filter: str | None = None) -> list[str]:
    """Names of the registered schedule constructors."""
    return SCHEDULES.list(filter)


def get_schedule(name: str) -> Callable[..., Schedule]:
    """The schedule constructor registered as ``name``."""
    return SCHEDULES.get(name)


def create_schedule(name: str, **kwargs: Any) -> Schedule:
    """Build a registered schedule from its name and keyword arguments (what configs use).

    Arguments left ``None`` keep their defaults; an unknown or missing one is a
    :class:`~gaplab.ConfigError` listing the constructor's arguments.

    >>> create_schedule("cosine", init_value=1.0, end_value=0.0, steps=4)(2)
    0.5
    """
    try:
        return SCHEDULES.create(name, **kwargs)
    except TypeError as e:  # a required argument missing, or a value of the wrong type
        valid = option_names(get_schedule(name)) or []
        raise ConfigError(f"schedule {name!r}: {e}; its arguments: {', '.join(valid)}") from None


def _check_steps(steps: int, where: str) -> int:
    if not isinstance(steps, (int,)) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"{where}: steps must be a positive integer, got steps={steps!r}")
    return int(steps)


def _check_positive(v: float, name: str, where: str) -> float:
    if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
        raise ConfigError(f"{where}: {name} must be a finite number > 0, got {name}={v!r}")
    return float(v)


@register_schedule("constant")
def constant_schedule(value: float) -> Schedule:
    """The same value at every step.

    >>> constant_schedule(0.07)(10**6)
    0.07
    """
    v = float(value)

    def schedule(step: int) -> float:
        return v

    return schedule


@register_schedule("linear")
def linear_schedule(init_value: float, end_value: float, steps: int) -> Schedule:
    r"""Linear ramp :math:`v_0 + (v_1 - v_0)\min(t/T, 1)`; an increasing-temperature schedule of 002.

    >>> linear_schedule(1.0, 3.0, 2)(1)
    2.0
    """
    steps = _check_steps(steps, "linear_schedule")
    a, b = float(init_value), float(end_value)

    def schedule(step: int) -> float:
        f = min(max(step, 0) / steps, 1.0)
        return b if f >= 1.0 else a + (b - a) * f

    return schedule


@register_schedule("cosine")
def cosine_schedule(init_value: float, end_value: float, steps: int) -> Schedule:
    r"""Half-cosine from ``init_value`` to ``end_value``: :math:`v_1 + (v_0-v_1)\frac{1+\cos(\pi\min(t/T,1))}{2}`.

    >>> s = cosine_schedule(0.0, 1.0, 10)
    >>> s(0), s(5), s(10)
    (0.0, 0.5, 1.0)
    """
    steps = _check_steps(steps, "cosine_schedule")
    a, b = float(init_value), float(end_value)

    def schedule(step: int) -> float:
        f = min(max(step, 0) / steps, 1.0)
        if f >= 1.0:
            return b
        return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * f))

    return schedule


@register_schedule("exponential")
def exponential_schedule(init_value: float, end_value: float, steps: int) -> Schedule:
    r"""Geometric interpolation :math:`v_0 (v_1/v_0)^{\min(t/T,1)}` (both values > 0).

    >>> s = exponential_schedule(0.01, 1.0, 2)
    >>> s(0), round(s(1), 6), s(2)
    (0.01, 0.1, 1.0)
    """
    steps = _check_steps(steps, "exponential_schedule")
    a = _check_positive(init_value, "init_value", "exponential_schedule")
    b = _check_positive(end_value, "end_value", "exponential_schedule")
    ratio = b / a

    def schedule(step: int) -> float:
        f = min(max(step, 0) / steps, 1.0)
        return b if f >= 1.0 else a * ratio**f

    return schedule


@register_schedule("step")
def step_schedule(init_value: float, boundaries: Sequence[int], values: Sequence[float]) -> Schedule:
    """Piecewise constant: ``init_value`` before ``boundaries[0]``, then ``values[k]`` from ``boundaries[k]``.

    >>> s = step_schedule(0.01, [10, 20], [0.1, 1.0])
    >>> s(9), s(10), s(25)
    (0.01, 0.1, 1.0)
    """
    bs = [int(b) for b in boundaries]
    vs = [float(v) for v in values]
    if len(bs) != len(vs):
        raise ConfigError(
            f"step_schedule: boundaries and values need the same length, got {len(bs)} and {len(vs)}"
        )
    if any(b2 <= b1 for b1, b2 in zip(bs, bs[1:], strict=False)):
        raise ConfigError(f"step_schedule: boundaries must increase strictly, got {bs}")
    v0 = float(init_value)

    def schedule(step: int) -> float:
        v = v0
        for b, val in zip(bs, vs, strict=True):
            if step >= b:
                v = val
            else:
                break
        return v

    return schedule


@register_schedule("warmup_cosine")
def warmup_cosine_schedule(
    init_value: float, peak_value: float, warmup_steps: int, steps: int, end_value: float = 0.0
) -> Schedule:
    """Linear warm-up to ``peak_value`` over ``warmup_steps``, then cosine to ``end_value`` at ``steps``.

    >>> s = warmup_cosine_schedule(0.0, 1.0, 2, 4)
    >>> s(0), s(2), s(4)
    (0.0, 1.0, 0.0)
    """
    steps = _check_steps(steps, "warmup_cosine_schedule")
    if not 0 <= warmup_steps < steps:
        raise ConfigError(
            f"warmup_cosine_schedule: need 0 <= warmup_steps < steps, got warmup_steps={warmup_steps}, steps={steps}"
        )
    if warmup_steps == 0:
        return cosine_schedule(peak_value, end_value, steps)
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps),
         cosine_schedule(peak_value, end_value, steps - warmup_steps)],
        [warmup_steps],
    )


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Schedule ``k`` runs from ``boundaries[k-1]``, counting its own steps from 0 there.

    >>> s = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 2.0, 10)], [5])
    >>> s(4), s(5), s(10)
    (1.0, 1.0, 1.5)
    """
    if len(schedules) != len(boundaries) + 1:
        raise ConfigError(
            f"join_schedules: need len(schedules) == len(boundaries) + 1, got {len(schedules)} and {len(boundaries)}"
        )
    bs = [int(b) for b in boundaries]
    starts = [0, *bs]

    def schedule(step: int) -> float:
        k = 0
        while k < len(bs) and step >= bs[k]:
            k += 1
        return schedules[k](step - starts[k])

    return schedule
