r"""Temperature strategies: fixed, scheduled, learnable (CLIP) and the mitigations of paper 002.

A strategy is a small ``nn.Module``: ``strategy(step)`` returns τ as a 0-d tensor (with a
gradient when learnable), ``strategy.value(step)`` as a float. The trainer puts the
parameters of a learnable one in their own optimizer group with learning rate
``lr * strategy.lr_scale`` and calls ``strategy.clamp_()`` after every optimizer step.

Registered names (``list_temperatures()``), each a constructor with keyword defaults:

==============  =============================================================================
``fixed``       τ constant (``value=0.07``)
``learnable``   CLIP: τ = 1/exp(ν), ν₀ = ln(1/0.07), logit scale clamped at ln 100 (τ ≥ 0.01;
                ``max_scale=None``: no clamp, as in gradient flow)
``schedule``    τ = schedule(step) from a registered schedule (``schedule="cosine", ...``)
``flt``         002 "Fixed on Large Temperature": a fixed, larger τ (``value=0.1``)
``ts``          002 "Temperature Scheduling": τ increases linearly, 0.07 → 1.0 over training
``tr``          002 "Temperature Reparameterization": τ = 1/β(ν) with β = softplus (or
                ``beta="exp"`` / ``"scaled_exp"``), so ν's gradient no longer grows with β
``slrt``        002 "Smaller Learning Rate of Temperature": learnable, ``lr_scale=0.1``
==============  =============================================================================

Anything accepting a temperature (:class:`~gaplab.train.Trainer`, :func:`create_temperature`)
takes a float (fixed), a schedule callable, a name, a ``{"name": ..., **kwargs}`` dict or
a :class:`Temperature` instance.

Paper 002's stored text names its mitigations only as "temperature scheduling, temperature
reparameterization, and modality swapping" and "control temperature ... such as increasing
temperature across training"; the acronyms above follow the paper's tables as we read them,
and every number here is a parameter.

>>> t = create_temperature("learnable")
>>> round(t.value(0), 4)
0.07
>>> create_temperature(0.5).value(123)
0.5
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ConfigError
from .._registry import Registry, check_options, option_names
from .schedules import Schedule, create_schedule, get_schedule, linear_schedule

__all__ = [
    "Temperature",
    "FixedTemperature",
    "ScheduledTemperature",
    "LearnableTemperature",
    "TEMPERATURES",
    "list_temperatures",
    "get_temperature",
    "create_temperature",
    "register_temperature",
]


class Temperature(nn.Module):
    """Base class: ``forward(step) -> τ`` (0-d tensor)."""

    learnable: bool = False
    lr_scale: float = 1.0

    def forward(self, step: int) -> Tensor:  # pragma: no cover - abstract
        """τ at optimizer step ``step``, a 0-d tensor; subclasses implement it."""
        raise NotImplementedError

    def value(self, step: int = 0) -> float:
        """τ at ``step`` as a float."""
        with torch.no_grad():
            return float(self(step))

    def clamp_(self) -> None:
        """Project the parameters back into their allowed range (no-op unless learnable)."""


class FixedTemperature(Temperature):
    r"""τ constant over training.

    >>> FixedTemperature(0.07)(10).item()
    0.07
    """

    def __init__(self, value: float = 0.07) -> None:
        super().__init__()
        if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise ConfigError(f"temperature must be a finite number > 0, got {value!r}")
        self.tau = float(value)

    def forward(self, step: int) -> Tensor:
        """The constant τ as a 0-d float64 tensor (whatever ``step``)."""
        return torch.tensor(self.tau, dtype=torch.float64)

    def extra_repr(self) -> str:
        """``tau=...`` for the module's repr."""
        return f"tau={self.tau}"


class ScheduledTemperature(Temperature):
    """τ = ``schedule(step)`` for a pure step → τ function (see :mod:`gaplab.train.schedules`).

    >>> from gaplab.train.schedules import linear_schedule
    >>> ScheduledTemperature(linear_schedule(0.1, 1.0, 10)).value(10)
    1.0
    """

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"ScheduledTemperature needs a callable step -> tau, got {schedule!r}")
        self.schedule = schedule

    def forward(self, step: int) -> Tensor:
        """``schedule(step)`` as a 0-d float64 tensor.

        Raises :class:`~gaplab.ConfigError` if the schedule's value is not finite and > 0.
        """
        tau = float(self.schedule(step))
        if not (tau > 0 and math.isfinite(tau)):
            raise ConfigError(f"temperature schedule gave tau={tau!r} at step {step}; need > 0")
        return torch.tensor(tau, dtype=torch.float64)


_BETAS = ("exp", "softplus", "scaled_exp")


class LearnableTemperature(Temperature):
    r"""Learnable τ = 1/β(ν) with β(ν) clamped at ``max_scale`` (CLIP's logit scale ≤ ln 100).

    .. math:: \tau = 1/\min(\beta(\nu), \beta_\max),\qquad
              \beta(\nu) \in \{e^{\nu},\ \log(1+e^{\nu}),\ e^{c\nu}\}

    Parameters
    ----------
    init : float
        τ at step 0 (CLIP: 0.07, i.e. logit scale ln(1/0.07)).
    beta : {"exp", "softplus", "scaled_exp"}
        The map ν → 1/τ. ``exp`` is CLIP's parameterisation; ``softplus`` and ``scaled_exp``
        are paper 002's reparameterisations (Lemma 3.1: with β = exp, β' = β, so the
        temperature's own gradient flow speeds up as τ falls; softplus has β' ≤ 1).
    scale : float
        c of ``scaled_exp``, β = exp(c·ν) (our reading of the "scaled" variant; c < 1 slows ν).
    max_scale : float or None
        Upper clamp of β (100 in CLIP, i.e. τ ≥ 0.01). ``None``: no clamp (β_max = ∞), the
        setting of paper 002's gradient-flow analysis; τ may then fall without bound.
    lr_scale : float
        Multiplier of the learning rate for ν (paper 002's smaller temperature learning rate).

    References
    ----------
    Radford et al. 2021 (CLIP); Yaras et al. (paper 002), §3 Lemma 3.1 and the mitigations section.
    """

    learnable = True

    def __init__(
        self,
        init: float = 0.07,
        *,
        beta: str = "exp",
        scale: float = 0.1,
        max_scale: float | None = 100.0,
        lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        max_scale = math.inf if max_scale is None else max_scale
        if beta not in _BETAS:
            raise ConfigError(f"LearnableTemperature: unknown beta {beta!r}; valid: {', '.join(_BETAS)}")
        if not (init > 0 and max_scale > 0 and scale > 0 and lr_scale >= 0):
            raise ConfigError(
                "LearnableTemperature: need init > 0, max_scale > 0, scale > 0, lr_scale >= 0, got "
                f"init={init}, max_scale={max_scale}, scale={scale}, lr_scale={lr_scale}"
            )
        if 1.0 / init > max_scale:
            raise ConfigError(
                f"LearnableTemperature: init={init} is below the clamp 1/max_scale={1 / max_scale}"
            )
        self.beta, self.scale, self.max_scale, self.lr_scale = beta, float(scale), float(max_scale), float(lr_scale)
        self.nu = nn.Parameter(torch.tensor(self._inverse(1.0 / init), dtype=torch.float64))
        self._nu_max = self._inverse(self.max_scale)

    def _inverse(self, b: float) -> float:
        if self.beta == "exp":
            return math.log(b)
        if self.beta == "softplus":
            return b + math.log(-math.expm1(-b))  # log(e^b − 1), stable
        return math.log(b) / self.scale

    def _beta(self, nu: Tensor) -> Tensor:
        if self.beta == "exp":
            return nu.exp()
        if self.beta == "softplus":
            return F.softplus(nu)
        return (self.scale * nu).exp()

    def forward(self, step: int) -> Tensor:
        """τ = 1/min(β(ν), ``max_scale``) as a 0-d tensor, differentiable in ν (``step`` unused)."""
        beta = self._beta(self.nu)
        return 1.0 / (beta if math.isinf(self.max_scale) else beta.clamp(max=self.max_scale))

    def clamp_(self) -> None:
        """Clamp ν in place so that β(ν) ≤ ``max_scale`` (τ ≥ 1/``max_scale``); no-op without a clamp."""
        if math.isinf(self._nu_max):
            return
        with torch.no_grad():
            self.nu.clamp_(max=self._nu_max)

    def extra_repr(self) -> str:
        """``beta``, ``max_scale`` and ``lr_scale`` for the module's repr."""
        return f"beta={self.beta!r}, max_scale={self.max_scale}, lr_scale={self.lr_scale}"


#: temperature strategy constructors by name
TEMPERATURES: Registry[Callable[..., Temperature]] = Registry("temperature")


def register_temperature(name: str) -> Callable[[Callable[..., Temperature]], Callable[..., Temperature]]:
    """Decorator adding a temperature strategy constructor to :data:`TEMPERATURES` under ``name``."""
    return TEMPERATURES.register(name)


def list_temperatures(filter: str | None = None) -> list[str]:
    """Names of the registered temperature strategies."""
    return TEMPERATURES.list(filter)


def get_temperature(name: str) -> Callable[..., Temperature]:
    """The temperature constructor registered as ``name``."""
    return TEMPERATURES.get(name)


@register_temperature("fixed")
def _fixed(value: float = 0.07) -> Temperature:
    return FixedTemperature(value)


@register_temperature("flt")
def _flt(value: float = 0.1) -> Temperature:
    return FixedTemperature(value)


@register_temperature("learnable")
def _learnable(init: float = 0.07, beta: str = "exp", scale: float = 0.1, max_scale: float | None = 100.0,
               lr_scale: float = 1.0) -> Temperature:
    return LearnableTemperature(init, beta=beta, scale=scale, max_scale=max_scale, lr_scale=lr_scale)


@register_temperature("tr")
def _tr(init: float = 0.07, beta: str = "softplus", scale: float = 0.1, max_scale: float | None = 100.0,
        lr_scale: float = 1.0) -> Temperature:
    return LearnableTemperature(init, beta=beta, scale=scale, max_scale=max_scale, lr_scale=lr_scale)


@register_temperature("slrt")
def _slrt(init: float = 0.07, lr_scale: float = 0.1, beta: str = "exp",
          max_scale: float | None = 100.0) -> Temperature:
    return LearnableTemperature(init, beta=beta, max_scale=max_scale, lr_scale=lr_scale)


@register_temperature("schedule")
def _schedule(schedule: str = "constant", total_steps: int | None = None, **kwargs: Any) -> Temperature:
    if schedule != "constant" and "steps" in _needs_steps(schedule) and "steps" not in kwargs:
        if total_steps is None:
            raise ConfigError(f"temperature schedule {schedule!r} needs steps=...")
        kwargs["steps"] = total_steps
    return ScheduledTemperature(create_schedule(schedule, **kwargs))


@register_temperature("ts")
def _ts(init_value: float = 0.07, end_value: float = 1.0, steps: int | None = None,
        total_steps: int | None = None) -> Temperature:
    steps = steps if steps is not None else total_steps
    if steps is None:
        raise ConfigError("temperature 'ts' needs steps=... (the trainer fills in its total steps)")
    return ScheduledTemperature(linear_schedule(init_value, end_value, steps))


def _needs_steps(schedule: str) -> list[str]:
    return list(inspect.signature(get_schedule(schedule)).parameters)


def create_temperature(spec: Any, *, total_steps: int | None = None) -> Temperature:
    """A :class:`Temperature` from a float, schedule callable, name, ``{"name": ..., **kw}`` or instance.

    ``total_steps`` fills the length of schedules that were given none (``ts``, ``schedule``).

    >>> create_temperature({"name": "ts", "init_value": 0.1, "end_value": 1.0}, total_steps=10).value(10)
    1.0
    """
    if isinstance(spec, Temperature):
        return spec
    if isinstance(spec, bool):
        raise ConfigError(f"temperature must be a number, name, dict or schedule, got {spec!r}")
    if isinstance(spec, (int, float)):
        return FixedTemperature(float(spec))
    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, dict):
        kw = dict(spec)
        name = kw.pop("name", None)
        if name is None:
            raise ConfigError(
                f"temperature dict needs a 'name' key; valid names: {', '.join(list_temperatures())}"
            )
        ctor = get_temperature(name)
        params = inspect.signature(ctor).parameters
        check_options(kw, option_names(ctor), f"temperature {name!r}")
        if "total_steps" in params and total_steps is not None:
            kw.setdefault("total_steps", total_steps)
        return ctor(**kw)  # None stays: max_scale=None means no clamp
    if callable(spec):
        return ScheduledTemperature(spec)
    raise ConfigError(f"temperature must be a number, name, dict or schedule, got {spec!r}")
