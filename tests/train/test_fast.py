"""The numba kernels (batch-of-runs API and the Trainer's numba engine) equal the autograd
(torch) engine to 1e-10 in float64 over 1,000 steps."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from gaplab import ConfigError  # noqa: E402
from gaplab.models import FreeEmbeddings, sphere_init  # noqa: E402
from gaplab.train import NonFiniteLossError, Trainer, linear_schedule  # noqa: E402
from gaplab.train.fast import sphere_grid_fast, train_free_embeddings_fast  # noqa: E402


def autograd_run(x0, y0, steps, **kw):
    m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
    tr = Trainer(m, steps=steps, lr=kw.pop("lr", 0.01), batch_size=kw.pop("batch_size", 10), engine="torch", **kw)
    tr.fit()
    assert tr.engine.name == "torch"
    return m.x.detach().numpy(), m.y.detach().numpy()


@pytest.mark.parametrize("loss, kw, init", [
    ("clip", {}, "polar"),
    ("simclr", {}, "nearby"),
    ("slip", {}, "overlapped"),
    ("slip", {"views": "paired", "simclr_weight": 0.5}, "polar"),
])
def test_fast_equals_autograd_1000_steps(loss, kw, init):
    x0, y0 = sphere_init(200, 3, init, seed=0)
    fast = train_free_embeddings_fast(x0, y0, loss=loss, loss_kwargs=kw, steps=1000, seed=4, mismatch=0.1)
    ax, ay = autograd_run(x0, y0, 1000, loss=loss, loss_kwargs=kw, seed=4, mismatch=0.1, temperature=0.07)
    assert np.abs(fast.params_x - ax).max() < 1e-10
    assert np.abs(fast.params_y - ay).max() < 1e-10
    assert np.abs(fast.params_x - x0).max() > 1e-3  # it did move


def test_fast_schedule_and_simclr_temperature_equal_autograd():
    x0, y0 = sphere_init(60, 4, "random", seed=2)
    sched = linear_schedule(0.05, 0.5, 300)
    fast = train_free_embeddings_fast(x0, y0, loss="clip", temperature=sched, steps=300, seed=1, lr=0.05,
                                      batch_size=12)
    ax, ay = autograd_run(x0, y0, 300, loss="clip", temperature=sched, seed=1, lr=0.05, batch_size=12)
    assert np.abs(fast.params_x - ax).max() < 1e-10 and np.abs(fast.params_y - ay).max() < 1e-10
    kw = {"simclr_temperature": 0.2}
    fast = train_free_embeddings_fast(x0, y0, loss="slip", loss_kwargs=kw, temperature=0.1, steps=200)
    ax, ay = autograd_run(x0, y0, 200, loss="slip", loss_kwargs=kw, temperature=0.1)
    assert np.abs(fast.params_x - ax).max() < 1e-10 and np.abs(fast.params_y - ay).max() < 1e-10


@pytest.mark.parametrize("loss, spec", [
    ("clip", "learnable"),
    ("simclr", {"name": "tr"}),
    ("slip", {"name": "slrt"}),
    ("clip", {"name": "learnable", "beta": "scaled_exp", "init": 0.5}),
])
def test_fast_learnable_temperature_equals_autograd(loss, spec):
    x0, y0 = sphere_init(100, 3, "polar", seed=0)
    fast = train_free_embeddings_fast(x0, y0, loss=loss, temperature=spec, steps=1000, seed=3,
                                      snapshot_steps=[0, 500], loss_every=500)
    m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
    tr = Trainer(m, loss=loss, temperature=spec, steps=1000, seed=3, lr=0.01, batch_size=10, engine="torch")
    tr.fit()
    assert np.abs(fast.params_x - m.x.detach().numpy()).max() < 1e-10
    assert np.abs(fast.params_y - m.y.detach().numpy()).max() < 1e-10
    assert fast.nu == pytest.approx(float(tr.temperature.nu.detach()), abs=1e-10)
    assert fast.temperatures[1000] == pytest.approx(tr.temperature.value(), abs=1e-12)
    assert fast.temperatures[0] != pytest.approx(fast.temperatures[1000])  # it moved
    assert fast.tau_history.shape == (2,)


@pytest.mark.parametrize("options", [
    dict(loss="clip", temperature=0.07, mismatch=0.1),
    dict(loss="slip", loss_kwargs={"views": "paired", "simclr_weight": 0.5}, temperature={"name": "tr"}),
    dict(loss="simclr", temperature={"name": "schedule", "schedule": "cosine", "init_value": 0.05, "end_value": 0.2}),
])
def test_trainer_engines_agree(options):
    """Trainer(engine="numba") and Trainer(engine="torch"): the same run to 1e-10, history included."""
    runs = {}
    for engine in ("numba", "torch"):
        m = FreeEmbeddings(150, 3, init="nearby", seed=2, dtype=torch.float64)
        tr = Trainer(m, steps=1000, eval_every=250, seed=5, engine=engine, metrics=["l2m", "alignment"], **options)
        tr.fit()
        assert tr.engine.name == engine
        runs[engine] = (m.x.detach().numpy(), m.y.detach().numpy(), tr.history.records, tr.temperature_value())
    (nx, ny, nh, nt), (ax, ay, ah, at) = runs["numba"], runs["torch"]
    assert np.abs(nx - ax).max() < 1e-10 and np.abs(ny - ay).max() < 1e-10
    assert nt == pytest.approx(at, abs=1e-10)
    assert [r["step"] for r in nh] == [r["step"] for r in ah] == [0, 250, 500, 750, 1000]
    for a, b in zip(nh, ah, strict=True):
        for k in ("loss", "temperature", "lr", "l2m", "alignment"):
            assert (a.get(k) is None and b.get(k) is None) or a[k] == pytest.approx(b[k], abs=1e-10), k


def test_numba_engine_is_the_batch_of_runs_api_bit_for_bit():
    """Trainer(engine="numba") and train_free_embeddings_fast share kernels and batch order."""
    x0, y0 = sphere_init(120, 3, "polar", seed=1)
    run = train_free_embeddings_fast(x0, y0, loss="slip", temperature="learnable", steps=700, seed=2,
                                     mismatch=0.2, lr=0.03, chunk_steps=300)
    m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
    tr = Trainer(m, loss="slip", temperature="learnable", steps=700, seed=2, mismatch=0.2, lr=0.03,
                 eval_every=100, metrics=["l2m"])
    tr.fit()
    assert tr.engine.name == "numba"
    assert np.array_equal(run.params_x, m.x.detach().numpy()) and np.array_equal(run.params_y, m.y.detach().numpy())
    assert run.nu == float(tr.temperature.nu.detach())


def test_auto_engine_choice():
    m64 = FreeEmbeddings(20, 3, dtype=torch.float64)
    assert Trainer(m64, steps=5).engine.name == "numba"
    assert Trainer(FreeEmbeddings(20, 3), steps=5).engine.name == "torch"  # float32 stays on torch
    assert Trainer(m64, steps=5, momentum=0.9).engine.name == "torch"
    assert Trainer(m64, steps=5, temperature="learnable", loss="siglip").engine.name == "torch"
    assert Trainer(FreeEmbeddings(20, 3), steps=5, dtype="float64").engine.name == "numba"
    with pytest.raises(ConfigError, match="the numba engine trains free embeddings on their own pairs"):
        Trainer(m64, steps=5, engine="numba").fit((torch.arange(20), torch.arange(20)))


def _naive_full_batch_descent(x0, y0, tau0, lr, steps):
    """Reference: gradient descent of the CLIP loss on all pairs with a learnable, unclamped τ = e^(-ν)."""
    x, y, nu, n = x0.copy(), y0.copy(), np.log(1.0 / tau0), x0.shape[0]
    taus = [tau0]
    for _ in range(steps):
        nx, ny = np.linalg.norm(x, axis=1, keepdims=True), np.linalg.norm(y, axis=1, keepdims=True)
        xh, yh = x / nx, y / ny
        s = xh @ yh.T
        logits = np.exp(nu) * s
        r = np.exp(logits - logits.max(1, keepdims=True))
        r /= r.sum(1, keepdims=True)
        c = np.exp(logits - logits.max(0, keepdims=True))
        c /= c.sum(0, keepdims=True)
        g = (r + c - 2.0 * np.eye(n)) / (2 * n)  # dL/dlogits
        gx, gy = np.exp(nu) * g @ yh, np.exp(nu) * g.T @ xh
        x = x - lr * (gx - (gx * xh).sum(1, keepdims=True) * xh) / nx
        y = y - lr * (gy - (gy * yh).sum(1, keepdims=True) * yh) / ny
        nu = nu - lr * np.exp(nu) * (g * s).sum()
        taus.append(np.exp(-nu))
    return x, y, nu, np.array(taus)


def test_full_batch_learnable_temperature_is_gradient_descent():
    """batch_size = N: plain gradient descent of the CLIP loss and of ν (paper 002's setting)."""
    rng = np.random.default_rng(5)
    x0, y0 = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    spec = {"name": "learnable", "init": 0.07, "max_scale": None}
    fast = train_free_embeddings_fast(x0, y0, temperature=spec, lr=0.1, batch_size=12, steps=3000,
                                      snapshot_steps=[0, 1000])
    x, y, nu, taus = _naive_full_batch_descent(x0, y0, 0.07, 0.1, 3000)
    # the engine shuffles the batch each step: the same sums in another order
    assert np.abs(fast.params_x - x).max() < 1e-10 and np.abs(fast.params_y - y).max() < 1e-10
    assert fast.nu == pytest.approx(nu, abs=1e-10)
    assert fast.temperatures[1000] == pytest.approx(taus[1000], rel=1e-10)
    assert fast.temperatures[0] != pytest.approx(fast.temperatures[1000])  # it moved
    m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
    tr = Trainer(m, loss="clip", temperature=spec, steps=3000, seed=0, lr=0.1, batch_size=12, engine="torch")
    tr.fit()
    assert np.abs(fast.params_x - m.x.detach().numpy()).max() < 1e-10
    assert fast.nu == pytest.approx(float(tr.temperature.nu.detach()), abs=1e-10)


def test_unclamped_learnable_temperature_passes_clip_clamp():
    """max_scale=None: τ falls below CLIP's 0.01, as in the naive descent; max_scale=100 stops there."""
    rng = np.random.default_rng(0)
    x0, y0 = rng.normal(size=(32, 3)), rng.normal(size=(32, 3))  # the setting of recipe gradient-flow
    spec = {"name": "learnable", "init": 0.07, "max_scale": None}
    both = train_free_embeddings_fast(np.stack([x0, x0]), np.stack([y0, y0]), temperature=[spec, "learnable"],
                                      lr=0.1, batch_size=32, steps=5000)
    x, _, nu, taus = _naive_full_batch_descent(x0, y0, 0.07, 0.1, 5000)
    free, clamped = both.temperatures[5000]
    assert free < 0.009
    assert free == pytest.approx(taus[-1], rel=1e-9)
    assert np.abs(both.params_x[0] - x).max() < 1e-9
    assert clamped == pytest.approx(0.01, rel=1e-12)


def test_many_runs_equal_single_runs_and_snapshots():
    x0, y0 = sphere_init(50, 3, "polar", seed=0)
    x1, y1 = sphere_init(50, 3, "nearby", seed=1)
    many = train_free_embeddings_fast(np.stack([x0, x1]), np.stack([y0, y1]), loss=["clip", "slip"],
                                      seed=[0, 1], steps=300, snapshot_steps=[0, 100], loss_every=100,
                                      chunk_steps=70)
    one = train_free_embeddings_fast(x1, y1, loss="slip", seed=1, steps=300, loss_every=100)
    assert np.array_equal(many.params_x[1], one.params_x)
    assert sorted(many.snapshots) == [0, 100, 300]
    assert np.allclose(many.snapshots[0][0][0], x0 / np.linalg.norm(x0, axis=1, keepdims=True))
    assert np.array_equal(many.snapshots[300][0], many.x)
    assert many.losses.shape == (2, 3) and np.allclose(many.losses[1], one.losses)
    assert many.losses[0, -1] < many.losses[0, 0]


def test_sphere_grid_runs_all_pairs():
    grid = sphere_grid_fast(n=40, steps=50, inits=("polar", "overlapped"), losses=("clip", "simclr"))
    assert sorted(grid) == [("clip", "overlapped"), ("clip", "polar"), ("simclr", "overlapped"),
                            ("simclr", "polar")]
    assert grid[("clip", "polar")].x.shape == (40, 3)


def test_fast_errors():
    x0, y0 = sphere_init(20, 3, "polar")
    with pytest.raises(ConfigError, match="loss 'siglip' has no fast path; valid: clip, simclr, slip"):
        train_free_embeddings_fast(x0, y0, loss="siglip")
    with pytest.raises(ConfigError, match=r"fast loss 'slip' has no parameter 'view'; valid: views"):
        train_free_embeddings_fast(x0, y0, loss="slip", loss_kwargs={"view": "self"})
    with pytest.raises(ConfigError, match="loss has 2 entries for 1 runs"):
        train_free_embeddings_fast(x0, y0, loss=["clip", "slip"])
    with pytest.raises(ConfigError, match="batch_size must be an integer in \\[2, 20\\]"):
        train_free_embeddings_fast(x0, y0, batch_size=30)
    x0[0] = 0.0  # a zero point has no direction: NaN after the first batch that holds it
    with pytest.raises(NonFiniteLossError, match=r"run\(s\) \[0\] diverged \(NaN/inf\) between steps 0 and 50"):
        train_free_embeddings_fast(x0, y0, steps=50)


def test_kernels_compile_only_when_the_fast_path_runs():
    import subprocess
    import sys

    code = ("import sys, gaplab.train; "
            "print('gaplab.train._fast_kernels' in sys.modules, 'click' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
