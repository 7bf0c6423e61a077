"""Schedules are pure and hit their endpoints; temperatures move and clamp; swap semantics."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from gaplab import ConfigError, UnknownNameError  # noqa: E402
from gaplab.train import (  # noqa: E402
    LearnableTemperature,
    create_schedule,
    create_temperature,
    hard_swap,
    join_schedules,
    list_schedules,
    list_temperatures,
    soft_swap,
)
from gaplab.train.swap import apply_swap  # noqa: E402

SCHED_ARGS = {
    "constant": dict(value=0.5),
    "linear": dict(init_value=0.07, end_value=1.0, steps=100),
    "cosine": dict(init_value=0.07, end_value=1.0, steps=100),
    "exponential": dict(init_value=0.07, end_value=1.0, steps=100),
    "step": dict(init_value=0.07, boundaries=[50, 80], values=[0.5, 1.0]),
    "warmup_cosine": dict(init_value=0.0, peak_value=1.0, warmup_steps=10, steps=100, end_value=0.07),
}


@pytest.mark.parametrize("name", list_schedules())
def test_schedules_pure_and_hit_endpoints(name):
    s = create_schedule(name, **SCHED_ARGS[name])
    seq1 = [s(t) for t in range(0, 130, 7)]
    seq2 = [s(t) for t in reversed(range(0, 130, 7))][::-1]
    assert seq1 == seq2  # order of calls does not matter
    a = SCHED_ARGS[name]
    start = a.get("init_value", a.get("value"))
    end = a.get("end_value", a.get("values", [a.get("value")])[-1])
    assert s(0) == pytest.approx(start)
    assert s(100) == pytest.approx(end)
    assert s(10**6) == pytest.approx(end)


def test_schedule_bad_arguments():
    with pytest.raises(ConfigError, match="steps must be a positive integer, got steps=0"):
        create_schedule("linear", init_value=1, end_value=2, steps=0)
    with pytest.raises(ConfigError, match="schedule 'cosine' has no parameter 'end'; valid: init_value, end_value, steps"):
        create_schedule("cosine", init_value=1, end=2, steps=3)
    with pytest.raises(ConfigError, match="schedule 'cosine': .*steps.*; its arguments: init_value, end_value, steps"):
        create_schedule("cosine", init_value=1, end_value=2)
    with pytest.raises(UnknownNameError, match="valid: constant, cosine"):
        create_schedule("cosinus")
    with pytest.raises(ConfigError, match="init_value must be a finite number > 0"):
        create_schedule("exponential", init_value=0.0, end_value=1.0, steps=3)
    with pytest.raises(ConfigError, match="len\\(schedules\\) == len\\(boundaries\\) \\+ 1"):
        join_schedules([lambda t: 1.0], [3])


def test_temperature_registry_and_mitigations():
    assert set(list_temperatures()) >= {"fixed", "learnable", "schedule", "flt", "ts", "tr", "slrt"}
    assert create_temperature("ts", total_steps=10).value(10) == pytest.approx(1.0)
    assert create_temperature("ts", total_steps=10).value(0) == pytest.approx(0.07)
    assert create_temperature("slrt").lr_scale == 0.1
    tr = create_temperature("tr")
    assert tr.beta == "softplus" and tr.value(0) == pytest.approx(0.07)
    for beta in ("exp", "softplus", "scaled_exp"):
        assert LearnableTemperature(0.05, beta=beta).value(0) == pytest.approx(0.05)
    sched = create_temperature({"name": "schedule", "schedule": "cosine", "init_value": 0.1, "end_value": 1.0},
                             total_steps=4)
    assert sched.value(4) == pytest.approx(1.0)


def test_temperature_bad_config():
    with pytest.raises(UnknownNameError, match="valid: fixed, flt, learnable"):
        create_temperature("learnabel")
    with pytest.raises(ConfigError, match=r"temperature 'learnable' has no parameter 'initial'; valid: init"):
        create_temperature({"name": "learnable", "initial": 0.1})
    with pytest.raises(ConfigError, match="unknown beta 'relu'; valid: exp, softplus, scaled_exp"):
        LearnableTemperature(beta="relu")
    with pytest.raises(ConfigError, match="finite number > 0"):
        create_temperature(-1.0)
    with pytest.raises(ConfigError, match="needs a 'name' key"):
        create_temperature({"init": 0.1})


@pytest.mark.parametrize("beta", ["exp", "softplus", "scaled_exp"])
def test_learnable_temperature_moves_and_respects_clamp(beta):
    t = LearnableTemperature(0.07, beta=beta)
    opt = torch.optim.SGD(t.parameters(), lr=1.0)
    before = t.value()
    for _ in range(200):
        opt.zero_grad()
        (-(1.0 / t(0)) * 10).backward()  # pushes 1/τ up without bound
        opt.step()
        t.clamp_()
    assert t.value() < before
    assert t.value() == pytest.approx(0.01, rel=1e-9)  # CLIP's clamp: logit scale ≤ ln 100
    assert float(t.nu.detach()) <= t._nu_max + 1e-12


@pytest.mark.parametrize("spec", [{"max_scale": None}, {"name": "learnable", "max_scale": None},
                                  {"name": "tr", "max_scale": None}])
def test_learnable_temperature_without_clamp(spec):
    t = LearnableTemperature(0.07, **spec) if "name" not in spec else create_temperature(spec)
    opt = torch.optim.SGD(t.parameters(), lr=0.01)
    for _ in range(2000):
        opt.zero_grad()
        (-(1.0 / t(0)) * 10).backward()  # pushes 1/τ up without bound
        opt.step()
        t.clamp_()  # a no-op without a clamp
        if t.value() < 0.005:
            break
    assert 0 < t.value() < 0.005  # past CLIP's clamp τ ≥ 0.01
    assert t.max_scale == float("inf") and t._nu_max == float("inf")


def test_hard_swap_p1_swaps_all_and_p0_is_identity():
    x, y = torch.randn(8, 3), torch.randn(8, 3)
    a, b = hard_swap(x, y, 1.0)
    assert torch.equal(a, y) and torch.equal(b, x)
    a, b = hard_swap(x, y, 0.0)
    assert torch.equal(a, x) and torch.equal(b, y)
    g = torch.Generator().manual_seed(0)
    a, b = hard_swap(x, y, 0.5, g)
    swapped = (a == y).all(1)
    assert torch.equal(a[~swapped], x[~swapped]) and torch.equal(b[swapped], x[swapped])
    assert 0 < int(swapped.sum()) < 8


def test_soft_swap_semantics():
    x, y = torch.zeros(50, 4), torch.ones(50, 4)
    a, b = soft_swap(x, y, 1.0)
    assert torch.equal(a, y) and torch.equal(b, x)
    a, b = soft_swap(x, y, 0.0)
    assert torch.equal(a, x) and torch.equal(b, y)
    a, b = soft_swap(x, y, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(a + b, torch.ones(50, 4))  # each coordinate lives in exactly one side
    frac = float(a.mean())
    assert 0.2 < frac < 0.4
    a, b = soft_swap(x, y, 0.5, torch.Generator().manual_seed(0), mode="mix")
    assert torch.allclose(a + b, torch.ones(50, 4)) and float(a.max()) <= 0.5
    with pytest.raises(ConfigError, match="p must be a probability in \\[0, 1\\], got p=1.5"):
        hard_swap(x, y, 1.5)
    with pytest.raises(ConfigError, match="unknown swap 'medium'; valid: none, hard, soft"):
        apply_swap("medium", x, y, 0.1)
    assert math.isfinite(float(a.sum()))
