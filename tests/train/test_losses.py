"""Losses against naive per-sample loops (numpy, float64) and autograd gradcheck."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gaplab import ConfigError, UnknownNameError  # noqa: E402
from gaplab.train import get_loss, list_losses  # noqa: E402


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _lse(v):
    m = max(v)
    return m + math.log(sum(math.exp(t - m) for t in v))


def naive_clip(x, y, tau):
    x, y = _unit(x), _unit(y)
    b = len(x)
    tot = 0.0
    for i in range(b):
        pos = x[i] @ y[i] / tau
        tot += -0.5 * (pos - _lse([x[i] @ y[j] / tau for j in range(b)]))
        tot += -0.5 * (pos - _lse([x[j] @ y[i] / tau for j in range(b)]))
    return tot / b


def naive_ntxent(a, b_, tau):
    z = np.concatenate([a, b_])
    n = len(a)
    tot = 0.0
    for k in range(2 * n):
        pos = (k + n) % (2 * n)
        tot += -(z[k] @ z[pos] / tau) + _lse([z[k] @ z[j] / tau for j in range(2 * n) if j != k])
    return tot / (2 * n)


def naive_siglip(x, y, tau, bias):
    x, y = _unit(x), _unit(y)
    b = len(x)
    tot = 0.0
    for i in range(b):
        for j in range(b):
            z = 1.0 if i == j else -1.0
            logit = x[i] @ y[j] / tau + bias
            tot += math.log1p(math.exp(-z * logit))
    return tot / b


def naive_unif(a, t=2.0):
    n = len(a)
    vals = [math.exp(-t * np.sum((a[i] - a[j]) ** 2)) for i in range(n) for j in range(n) if i != j]
    return math.log(sum(vals) / len(vals))


def naive_xunif(a, b_, t=2.0):
    n = len(a)
    vals = [math.exp(-t * np.sum((a[i] - b_[j]) ** 2)) for i in range(n) for j in range(n) if i != j]
    return math.log(sum(vals) / len(vals))


def naive_align(a, b_, alpha=2.0):
    return float(np.mean([np.linalg.norm(a[i] - b_[i]) ** alpha for i in range(len(a))]))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)), rng.normal(size=(6, 4))


def T(a):
    return torch.tensor(a, dtype=torch.float64)


def test_registry_lists_all_issue_losses():
    assert set(list_losses()) >= {"clip", "siglip", "simclr", "slip", "cua", "cuaxu"}


def test_unknown_loss_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*clip.*Did you mean 'clip'"):
        get_loss("clipp")


@pytest.mark.parametrize("tau", [0.07, 1.0])
def test_clip_matches_naive(batch, tau):
    x, y = batch
    loss, parts = get_loss("clip")(T(x), T(y), tau)
    assert float(loss) == pytest.approx(naive_clip(x, y, tau), rel=1e-12)
    assert float(parts["alignment"] + parts["uniformity"]) == pytest.approx(float(loss), rel=1e-12)
    assert float(0.5 * (parts["i2t"] + parts["t2i"])) == pytest.approx(float(loss), rel=1e-12)
    xu, yu = _unit(x), _unit(y)
    assert float(parts["alignment"]) == pytest.approx(-np.mean(np.sum(xu * yu, 1)) / tau, rel=1e-12)


def test_siglip_matches_naive(batch):
    x, y = batch
    loss, parts = get_loss("siglip")(T(x), T(y), 0.1, bias=-3.0)
    assert float(loss) == pytest.approx(naive_siglip(x, y, 0.1, -3.0), rel=1e-12)
    assert float(parts["positive"] + parts["negative"]) == pytest.approx(float(loss), rel=1e-12)


def test_simclr_matches_naive(batch):
    x, y = batch
    loss, _ = get_loss("simclr")(T(x), T(y), 0.2)
    assert float(loss) == pytest.approx(naive_ntxent(_unit(x), _unit(y), 0.2), rel=1e-12)


@pytest.mark.parametrize("views", ["self", "paired"])
def test_slip_matches_naive(batch, views):
    x, y = batch
    loss, parts = get_loss("slip")(T(x), T(y), 0.3, views=views)
    xu, yu = _unit(x), _unit(y)
    second = yu if views == "paired" else xu
    ref = naive_clip(x, y, 0.3) + naive_ntxent(xu, second, 0.3)
    assert float(loss) == pytest.approx(ref, rel=1e-12)


def test_slip_explicit_views_and_bad_views(batch):
    x, y = batch
    v1, v2 = T(x[::-1].copy()), T(y[::-1].copy())
    loss, _ = get_loss("slip")(T(x), T(y), 0.3, x_views=(v1, v2), simclr_weight=0.5)
    ref = naive_clip(x, y, 0.3) + 0.5 * naive_ntxent(_unit(x[::-1]), _unit(y[::-1]), 0.3)
    assert float(loss) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ConfigError, match="views must be 'self' or 'paired'"):
        get_loss("slip")(T(x), T(y), 0.3, views="both")


def test_cua_and_cuaxu_match_naive(batch):
    x, y = batch
    xu, yu = _unit(x), _unit(y)
    loss, parts = get_loss("cua")(T(x), T(y), 0.5, uniformity_weight=0.3, alignment_weight=2.0)
    ref = naive_clip(x, y, 0.5) + 0.3 * 0.5 * (naive_unif(xu) + naive_unif(yu)) + 2.0 * naive_align(xu, yu)
    assert float(loss) == pytest.approx(ref, rel=1e-12)
    loss2, parts2 = get_loss("cuaxu")(T(x), T(y), 0.5)
    ref2 = (naive_clip(x, y, 0.5) + 0.5 * (naive_unif(xu) + naive_unif(yu)) + naive_align(xu, yu)
            + naive_xunif(xu, yu))
    assert float(loss2) == pytest.approx(ref2, rel=1e-12)
    assert float(parts2["cross_uniformity"]) == pytest.approx(naive_xunif(xu, yu), rel=1e-12)


def test_cross_uniformity_gradient_matches_naive_loop(batch):
    """Which pairs and which sign: autograd of the cross term equals finite differences of the naive loop."""
    from gaplab.train.losses import cross_uniformity_loss

    x, y = _unit(batch[0]), _unit(batch[1])
    tx, ty = T(x).requires_grad_(), T(y).requires_grad_()
    cross_uniformity_loss(tx, ty).backward()
    h = 1e-6
    for a, grad, other, first in ((x, tx.grad, y, True), (y, ty.grad, x, False)):
        num = np.zeros_like(a)
        for i in range(a.shape[0]):
            for k in range(a.shape[1]):
                ap, am = a.copy(), a.copy()
                ap[i, k] += h
                am[i, k] -= h
                fp = naive_xunif(ap, other) if first else naive_xunif(other, ap)
                fm = naive_xunif(am, other) if first else naive_xunif(other, am)
                num[i, k] = (fp - fm) / (2 * h)
        # both agree on the sphere (unit rows): compare the gradients along it
        def tangent(g, a=a):
            return g - (g * a).sum(1, keepdims=True) * a

        np.testing.assert_allclose(tangent(grad.numpy()), tangent(num), atol=1e-8)


def test_cuaxu_minimiser_on_s2_is_gap_free():
    """Free points on S² trained with CUAXU close the gap: separation at 3 d is not the loss's minimum."""
    from gaplab.models import FreeEmbeddings
    from gaplab.train import Trainer

    rng = np.random.default_rng(0)
    x0, y0 = rng.normal(size=(512, 3)), rng.normal(size=(512, 3))
    m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
    Trainer(m, loss="cuaxu", temperature="learnable", optimizer="adamw", lr=1e-2, batch_size=128, steps=600,
            seed=0).fit()
    xh, yh = _unit(m.x.detach().numpy()), _unit(m.y.detach().numpy())
    assert np.linalg.norm(xh.mean(0) - yh.mean(0)) < 0.01
    # and the two modalities on opposite poles cost more than aligned, uniform points
    u = _unit(rng.normal(size=(256, 3)))
    pole = np.tile([0.0, 0.0, 1.0], (256, 1)) + 1e-3 * rng.normal(size=(256, 3))
    aligned, _ = get_loss("cuaxu")(T(u), T(u), 0.07)
    apart, parts = get_loss("cuaxu")(T(pole), T(-pole), 0.07)
    assert float(parts["cross_uniformity"]) < -7.9  # the cross term alone prefers apart (minimum −4t = −8)
    assert float(apart) > float(aligned) + 3.0


def test_shape_mismatch_is_a_config_error():
    with pytest.raises(ConfigError, match=r"clip_loss: .*x \(3, 2\) and y \(4, 2\)"):
        get_loss("clip")(torch.zeros(3, 2) + 1, torch.ones(4, 2), 0.1)


@pytest.mark.parametrize("name", list_losses())
def test_gradcheck_every_loss(name):
    rng = np.random.default_rng(1)
    x = T(rng.normal(size=(4, 3))).requires_grad_()
    y = T(rng.normal(size=(4, 3))).requires_grad_()
    tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    fn = get_loss(name)

    def f(a, b, t):
        return fn(a, b, t)[0]

    assert torch.autograd.gradcheck(f, (x, y, tau), eps=1e-6, atol=1e-6)
