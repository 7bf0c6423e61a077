r"""Numba kernels for free embeddings: the hand-derived gradient, one run or many in parallel.

These kernels are the ``numba`` engine of :class:`~gaplab.train.Trainer`
(:class:`~gaplab.train.engines.NumbaEngine`, one run, resumable, with callbacks);
:func:`train_free_embeddings_fast` is their batch-of-runs form (R runs in one parallel call,
used by the sphere and gradient-flow recipes). Both draw batches from
:class:`~gaplab.train.batches.BatchOrder`, so the two give the same numbers bit for bit.

The sphere of paper 001 (1,000 pairs in R³, batch 10, SGD lr 0.01, 2.5M steps) costs ~300 µs
per step as a plain PyTorch loop, because every step is Python and autograd overhead. Here
each step is a few hundred flops in compiled code (~2-3 µs), and independent runs (losses ×
inits × seeds) are spread over the cores with ``numba.prange``.

It computes exactly what :class:`~gaplab.train.Trainer` computes for a
:class:`~gaplab.models.FreeEmbeddings` model with SGD (no momentum, no weight decay), a fixed,
scheduled or learnable temperature (ν trained by SGD, clamped unless ``max_scale=None``) and
the same ``seed``: same batch order (:class:`~gaplab.train.batches.BatchOrder`:
``default_rng(seed)``, one permutation per epoch, last partial batch dropped), same fixed
mismatches (:func:`~gaplab.train.mismatch_index`), same loss. In float64 the two agree to ~1e-13 after
1,000 steps (tested to 1e-10).

Gradients (rows of x̂, ŷ unit; S = x̂ŷᵀ/τ; R, C the row / column softmaxes of S):

.. math::
    \mathcal{L}_\mathrm{clip}:\quad G = \frac{R + C - 2I}{2B},\quad
    \partial\hat x = G\hat y/\tau,\quad \partial\hat y = G^\top\hat x/\tau

    \text{NT-Xent on } z=[a;b]:\quad D_{kl} = \frac{P_{kl} - [l = k^+]}{2B},\quad
    \partial z = (D + D^\top) z/\tau

then through the normalisation :math:`\partial p = (\partial\hat x - \hat x(\hat x^\top\partial\hat x))/\lVert p\rVert`
and the SGD step :math:`p \leftarrow p - \eta\,\partial p`.

Losses: ``clip``, ``simclr`` (NT-Xent with x, y as the two views), ``slip`` (CLIP +
``simclr_weight`` · NT-Xent with ``views="self"`` — image as both views — or ``"paired"``;
see :func:`~gaplab.train.slip_loss`).

Python API
----------
``train_free_embeddings_fast(x0, y0, *, loss="clip", temperature=0.07, lr=0.01, batch_size=10,
steps=1000, seed=0, mismatch=0.0, loss_kwargs=None, snapshot_steps=(), loss_every=None,
chunk_steps=50_000, n_threads=None) -> FastRun``

``x0``, ``y0``: (N, d) for one run or (R, N, d) for R runs; ``loss``, ``temperature``
(float or schedule), ``lr``, ``seed``, ``mismatch``, ``loss_kwargs`` may each be one value or
a sequence of R. ``sphere_grid_fast(...)`` runs the 3 losses × 3 inits of paper 001 at once.

>>> from gaplab.models import sphere_init
>>> x0, y0 = sphere_init(100, 3, "polar", seed=0)
>>> run = train_free_embeddings_fast(x0, y0, loss="clip", steps=200, snapshot_steps=[0, 100])
>>> run.x.shape, sorted(run.snapshots)
((100, 3), [0, 100, 200])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import ConfigError
from .._registry import check_options
from .._validation import normalize_rows

__all__ = ["train_free_embeddings_fast", "sphere_grid_fast", "FastRun", "FAST_LOSSES", "KernelLoss", "KernelTemperature",
           "kernel_loss", "kernel_temperature", "run_kernel"]

#: losses the fast path implements (name → kernel id)
FAST_LOSSES = ("clip", "simclr", "slip")

_CLIP, _SIMCLR, _SLIP_SELF, _SLIP_PAIRED = 0, 1, 2, 3


def _kernels() -> dict[str, Any]:
    """Import (compiling once, cached on disk) the numba kernels."""
    global _KERNELS
    if _KERNELS is None:
        import numba

        from . import _fast_kernels as fk

        _KERNELS = {"run_one": fk.run_one, "run_many": fk.run_many, "numba": numba}
    return _KERNELS


_KERNELS: dict[str, Any] | None = None


@dataclass
class FastRun:
    """Result of :func:`train_free_embeddings_fast`.

    ``x``, ``y``: final normalised points, (N, d) for one run or (R, N, d); ``params_x``,
    ``params_y``: the raw (unnormalised) parameters; ``snapshots[step] = (x̂, ŷ)`` at the
    requested steps plus the last; ``temperatures[step]``: τ there (per run); ``losses``: mean
    loss per window of ``loss_every`` steps ((R, W) or (W,)); ``tau_history``: τ at the last
    step of each window; ``nu``: final ν of a learnable temperature; ``seconds``: wall time of
    the training loop (compilation excluded).
    """

    x: np.ndarray
    y: np.ndarray
    params_x: np.ndarray
    params_y: np.ndarray
    snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    losses: np.ndarray | None = None
    loss_every: int | None = None
    steps: int = 0
    seconds: float = 0.0
    runs: list[dict[str, Any]] = field(default_factory=list)
    temperatures: dict[int, Any] = field(default_factory=dict)
    tau_history: np.ndarray | None = None
    nu: Any = None


def _per_run(value: Any, r: int, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)) and not (name == "loss_kwargs"):
        if len(value) != r:
            raise ConfigError(f"train_free_embeddings_fast: {name} has {len(value)} entries for {r} runs")
        return list(value)
    if name == "loss_kwargs" and isinstance(value, (list, tuple)):
        if len(value) != r:
            raise ConfigError(f"train_free_embeddings_fast: loss_kwargs has {len(value)} entries for {r} runs")
        return [dict(v or {}) for v in value]
    return [value] * r


# -- what the kernels need of a run: shared with gaplab.train.engines.NumbaEngine ------------------

@dataclass
class KernelLoss:
    """A loss as the kernels take it: kernel id, SimCLR weight and fixed SimCLR τ (or None)."""

    loss_id: int
    w_sim: float
    tau2: float | None


def kernel_loss(name: str, options: dict[str, Any] | None) -> KernelLoss:
    """:class:`KernelLoss` of loss ``name`` with ``options``; unknown ones raise :class:`~gaplab.ConfigError`."""
    kw = dict(options or {})
    if name not in FAST_LOSSES:
        raise ConfigError(
            f"train_free_embeddings_fast: loss {name!r} has no fast path; valid: {', '.join(FAST_LOSSES)} "
            "(use gaplab.train.Trainer for the others)"
        )
    valid = {"clip": [], "simclr": [], "slip": ["views", "simclr_weight", "simclr_temperature"]}[name]
    check_options(kw, valid, f"fast loss {name!r}")
    if name == "clip":
        loss_id = _CLIP
    elif name == "simclr":
        loss_id = _SIMCLR
    else:
        views = kw.get("views", "self")
        if views not in ("self", "paired"):
            raise ConfigError(f"slip views must be 'self' or 'paired', got {views!r}")
        loss_id = _SLIP_SELF if views == "self" else _SLIP_PAIRED
    tau2 = kw.get("simclr_temperature")
    return KernelLoss(loss_id, float(kw.get("simclr_weight", 1.0)), None if tau2 is None else float(tau2))


@dataclass
class KernelTemperature:
    """A temperature strategy as the kernels take it.

    ``tau`` is a float or a schedule (step → τ) when not learnable; when ``learn``, τ comes
    from ``nu`` (one float, trained by SGD with ``lr_nu``) through β = exp / softplus /
    scaled_exp (``beta_kind`` 0 / 1 / 2, ``beta_scale``), clamped at ``max_scale``
    (``nu_max`` on ν).
    """

    tau: Any = 1.0
    learn: int = 0
    nu: float = 0.0
    beta_kind: int = 0
    beta_scale: float = 1.0
    max_scale: float = math.inf
    nu_max: float = math.inf
    lr_nu: float = 0.0

    def value(self, step: int, nu: float | None = None) -> float:
        """τ at ``step`` (learnable: at ν = ``nu``, default the initial ν)."""
        if self.learn:
            v = self.nu if nu is None else float(nu)
            b = {0: lambda: math.exp(v), 1: lambda: math.log1p(math.exp(v)) if v <= 20 else v,
                 2: lambda: math.exp(self.beta_scale * v)}[self.beta_kind]()
            return float(1.0 / min(b, self.max_scale))
        return float(self.tau(step)) if callable(self.tau) else float(self.tau)

    def taus(self, lo: int, hi: int) -> np.ndarray:
        """τ of steps ``lo .. hi-1`` (a placeholder 1.0 when learnable: the kernel computes τ from ν)."""
        if callable(self.tau) and not self.learn:
            out = np.array([float(self.tau(s)) for s in range(lo, hi)], dtype=np.float64)
        else:
            out = np.full(hi - lo, float(self.tau), dtype=np.float64)
        if not (out > 0).all() or not np.isfinite(out).all():
            raise ConfigError(f"train_free_embeddings_fast: a temperature schedule gave tau <= 0 between steps {lo} and {hi}")
        return out


def kernel_temperature(t: Any, lr: float, steps: int) -> KernelTemperature:
    """:class:`KernelTemperature` of a float, schedule, name, dict or :class:`~gaplab.train.Temperature`."""
    from .temperature import (
        FixedTemperature,
        LearnableTemperature,
        ScheduledTemperature,
        Temperature,
        create_temperature,
    )

    if isinstance(t, (str, dict, Temperature)):
        t = create_temperature(t, total_steps=steps)
        if isinstance(t, LearnableTemperature):
            return KernelTemperature(learn=1, nu=float(t.nu.detach()), beta_kind=("exp", "softplus", "scaled_exp").index(t.beta),
                                     beta_scale=t.scale, max_scale=t.max_scale, nu_max=t._nu_max, lr_nu=lr * t.lr_scale)
        if isinstance(t, ScheduledTemperature):
            t = t.schedule
        elif isinstance(t, FixedTemperature):
            t = t.tau
        else:
            raise ConfigError(f"fast path: unsupported temperature strategy {type(t).__name__}")
    if not callable(t) and (isinstance(t, bool) or not (isinstance(t, (int, float)) and t > 0)):
        raise ConfigError(f"train_free_embeddings_fast: temperature must be > 0 or a schedule, got {t!r}")
    return KernelTemperature(tau=t)


def check_simclr_temperature(loss: KernelLoss, temp: KernelTemperature) -> None:
    if loss.tau2 is not None and temp.learn:
        raise ConfigError("fast path: simclr_temperature needs a fixed (not learnable) temperature")
    if loss.tau2 is not None and callable(temp.tau):
        raise ConfigError("fast path: simclr_temperature needs a fixed (not scheduled) temperature")


def run_kernel(P: np.ndarray, Q: np.ndarray, idx: np.ndarray, tidx: np.ndarray, taus: np.ndarray, lrs: np.ndarray,
               losses: list[KernelLoss], temps: list[KernelTemperature], nus: np.ndarray, loss_out: np.ndarray,
               tau_out: np.ndarray, loss_every: int, step0: int, batch_size: int) -> None:
    """One compiled call: R runs ((R, N, d) ``P``, ``Q``) over the steps whose batches are ``idx``.

    ``nus`` (R, 1) holds each learnable ν and is updated in place, as are ``P``, ``Q``,
    ``loss_out`` (mean loss per window of ``loss_every`` steps, counted from ``step0``) and
    ``tau_out`` (τ at the last step of each window).
    """
    k = _kernels()
    r = P.shape[0]
    # τ of the SimCLR term relative to the CLIP τ (1 = the same τ, schedules included)
    tau2_ratio = np.array([1.0 if lo.tau2 is None else lo.tau2 / taus[i, 0] for i, lo in enumerate(losses)])
    learn = np.array([t.learn for t in temps], dtype=np.int64)
    beta_kinds = np.array([t.beta_kind for t in temps], dtype=np.int64)
    beta_scales = np.array([t.beta_scale for t in temps], dtype=np.float64)
    max_scales = np.array([t.max_scale for t in temps], dtype=np.float64)
    nu_maxs = np.array([t.nu_max for t in temps], dtype=np.float64)
    lr_nus = np.array([t.lr_nu for t in temps], dtype=np.float64)
    if r == 1:
        lo = losses[0]
        k["run_one"](P[0], Q[0], idx[0], tidx[0], taus[0], float(lrs[0]), lo.loss_id, lo.w_sim,
                     tau2_ratio[0], loss_out[0], int(loss_every), int(step0), batch_size,
                     learn[0], nus[0], beta_kinds[0], beta_scales[0], max_scales[0], nu_maxs[0],
                     lr_nus[0], tau_out[0])
        return
    # chunk size 1: a thread that finishes a cheap run takes the next one (load balance)
    prev_chunk = k["numba"].set_parallel_chunksize(1)
    try:
        k["run_many"](P, Q, idx, tidx, taus, np.asarray(lrs, dtype=np.float64),
                      np.array([lo.loss_id for lo in losses], dtype=np.int64),
                      np.array([lo.w_sim for lo in losses], dtype=np.float64), tau2_ratio, loss_out,
                      int(loss_every), int(step0), batch_size, learn, nus, beta_kinds, beta_scales, max_scales,
                      nu_maxs, lr_nus, tau_out)
    finally:
        k["numba"].set_parallel_chunksize(prev_chunk)


def train_free_embeddings_fast(
    x0: Any,
    y0: Any,
    *,
    loss: str | Sequence[str] = "clip",
    temperature: float | Callable[[int], float] | Sequence[Any] = 0.07,
    lr: float | Sequence[float] = 0.01,
    batch_size: int = 10,
    steps: int = 1000,
    seed: int | Sequence[int] = 0,
    mismatch: float | Sequence[float] = 0.0,
    loss_kwargs: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    snapshot_steps: Sequence[int] = (),
    loss_every: int | None = None,
    chunk_steps: int = 50_000,
    n_threads: int | None = None,
) -> FastRun:
    """Train free embeddings (one run or R runs in parallel) with SGD and the hand-derived gradient.

    The same kernels and batch order (:class:`~gaplab.train.batches.BatchOrder`) as the
    ``numba`` engine of :class:`~gaplab.train.Trainer`; this is its batch-of-runs form.

    Parameters
    ----------
    x0, y0 : array (N, d) or (R, N, d)
        Initial image / text points (rows need not be unit; they are normalised in the loss).
    loss : str or sequence of str
        ``clip``, ``simclr`` or ``slip`` (:data:`FAST_LOSSES`), per run.
    temperature : float, schedule, name/dict/Temperature, or a sequence of those
        τ per run: fixed, a pure ``step -> τ`` schedule (see :mod:`gaplab.train.schedules`), or
        a strategy of :func:`~gaplab.train.create_temperature` — learnable ones (``learnable``,
        ``tr``, ``slrt``; β = exp/softplus/scaled_exp, clamp, ``lr_scale``) train ν by SGD
        exactly as the Trainer does.
    lr, seed, mismatch : per run values or one for all
        SGD learning rate; seed of the batch order and mismatches; fraction of mismatched pairs.
    batch_size : int
        Pairs per step, in [2, N]. ``N`` is full-batch gradient descent (paper 002's setting);
        the per-epoch permutation then only reorders floating-point sums.
    loss_kwargs : dict or sequence of dicts
        For ``slip``: ``views`` ("self" | "paired"), ``simclr_weight``, ``simclr_temperature``
        (fixed float; default the CLIP τ). Other keys raise :class:`~gaplab.ConfigError`.
    snapshot_steps : sequence of int
        Steps at which to keep the normalised points (0 = initial).
    loss_every : int, optional
        Record the mean loss over windows of this many steps.
    chunk_steps : int
        Steps per compiled call (bounds the memory of the precomputed batch order).
    n_threads : int, optional
        numba threads (default: all cores).

    Returns
    -------
    FastRun
    """
    from .batches import BatchOrder, mismatch_index
    from .history import NonFiniteLossError

    xa = np.array(x0, dtype=np.float64)
    ya = np.array(y0, dtype=np.float64)
    single = xa.ndim == 2
    if single:
        xa, ya = xa[None], ya[None]
    if xa.ndim != 3 or xa.shape != ya.shape:
        raise ConfigError(
            f"train_free_embeddings_fast: x0 and y0 must both be (N, d) or (R, N, d), got {xa.shape} and {ya.shape}"
        )
    if not np.isfinite(xa).all() or not np.isfinite(ya).all():
        raise ConfigError("train_free_embeddings_fast: x0/y0 contain NaN or inf")
    r, n, d = xa.shape
    if not (isinstance(batch_size, int) and 2 <= batch_size <= n):
        raise ConfigError(f"train_free_embeddings_fast: batch_size must be an integer in [2, {n}], got {batch_size!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ConfigError(f"train_free_embeddings_fast: steps must be a positive integer, got {steps!r}")
    losses_l = _per_run(loss, r, "loss")
    temps_in = _per_run(temperature, r, "temperature")
    lrs = [float(v) for v in _per_run(lr, r, "lr")]
    seeds = [int(v) for v in _per_run(seed, r, "seed")]
    mism = [float(v) for v in _per_run(mismatch, r, "mismatch")]
    kws = _per_run(loss_kwargs, r, "loss_kwargs") if loss_kwargs is not None else [{}] * r
    klosses = [kernel_loss(name, kw) for name, kw in zip(losses_l, kws, strict=True)]
    for v in lrs:
        if not v > 0:
            raise ConfigError(f"train_free_embeddings_fast: lr must be > 0, got {v}")
    ktemps = [kernel_temperature(t, lr_, steps) for t, lr_ in zip(temps_in, lrs, strict=True)]
    for lo_, t_ in zip(klosses, ktemps, strict=True):
        check_simclr_temperature(lo_, t_)
    nus = np.array([[t.nu] for t in ktemps], dtype=np.float64)

    tidx = np.stack([mismatch_index(n, m, s) for m, s in zip(mism, seeds, strict=True)]).astype(np.int64)
    orders = [BatchOrder(n, batch_size, s) for s in seeds]
    snaps = sorted({int(s) for s in snapshot_steps if 0 <= int(s) <= steps} | {steps})
    n_win = 0
    if loss_every:
        n_win = math.ceil(steps / loss_every)
    losses = np.zeros((r, max(n_win, 1)))
    tau_rec = np.zeros((r, max(n_win, 1)))
    if n_threads is not None:
        _kernels()["numba"].set_num_threads(int(n_threads))
    P, Q = xa.copy(), ya.copy()
    out = FastRun(x=np.empty(0), y=np.empty(0), params_x=np.empty(0), params_y=np.empty(0),
                  loss_every=loss_every, steps=steps)

    def taus_now(step: int) -> list[float]:
        return [t.value(step, nus[i, 0]) for i, t in enumerate(ktemps)]

    if 0 in snaps:
        out.snapshots[0] = (normalize_rows(P).copy(), normalize_rows(Q).copy())
        out.temperatures[0] = taus_now(0)
    bounds = sorted(set(snaps) | set(range(0, steps, chunk_steps)) | {steps})
    t0 = time.perf_counter()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        m = hi - lo
        idx = np.stack([o.take(m) for o in orders])
        taus = np.stack([t.taus(lo, hi) for t in ktemps])
        run_kernel(P, Q, idx, tidx, taus, np.array(lrs), klosses, ktemps, nus, losses, tau_rec,
                   int(loss_every or 0), lo, batch_size)
        if not (np.isfinite(P).all() and np.isfinite(Q).all()):
            bad = [i for i in range(r) if not (np.isfinite(P[i]).all() and np.isfinite(Q[i]).all())]
            raise NonFiniteLossError(
                f"train_free_embeddings_fast: run(s) {bad} diverged (NaN/inf) between steps {lo} and {hi} "
                f"(temperature {taus[bad[0], -1]:.6g}, lr {lrs[bad[0]]}); lower lr or raise the temperature"
            )
        if hi in snaps:
            out.snapshots[hi] = (normalize_rows(P).copy(), normalize_rows(Q).copy())
            out.temperatures[hi] = taus_now(hi)
    out.seconds = time.perf_counter() - t0
    out.params_x, out.params_y = P, Q
    out.x, out.y = normalize_rows(P), normalize_rows(Q)
    out.losses = losses[:, :n_win] if loss_every else None
    out.tau_history = tau_rec[:, :n_win] if loss_every else None
    out.nu = nus[:, 0].copy()
    out.runs = [
        {"loss": lo_, "lr": l_, "seed": s_, "mismatch": m_, "temperature": t_.tau if not callable(t_.tau) else "schedule"}
        for lo_, l_, s_, m_, t_ in zip(losses_l, lrs, seeds, mism, ktemps, strict=True)
    ]
    if single:
        out.x, out.y, out.params_x, out.params_y = out.x[0], out.y[0], P[0], Q[0]
        out.snapshots = {s: (a[0], b[0]) for s, (a, b) in out.snapshots.items()}
        out.losses = None if out.losses is None else out.losses[0]
        out.tau_history = None if out.tau_history is None else out.tau_history[0]
        out.temperatures = {k_: v[0] for k_, v in out.temperatures.items()}
        out.nu = out.nu[0]
    return out


def sphere_grid_fast(
    *,
    losses: Sequence[str] = FAST_LOSSES,
    inits: Sequence[str] = ("polar", "nearby", "overlapped"),
    n: int = 1000,
    dim: int = 3,
    steps: int = 2_500_000,
    temperature: float = 0.07,
    lr: float = 0.01,
    batch_size: int = 10,
    seed: int = 0,
    snapshot_steps: Sequence[int] = (),
    loss_every: int | None = None,
    loss_kwargs: dict[str, dict[str, Any]] | None = None,
    init_kwargs: dict[str, Any] | None = None,
    n_threads: int | None = None,
) -> dict[tuple[str, str], FastRun]:
    """The sphere experiment of paper 001: every (loss, init) pair as one parallel batch of runs.

    Each init is drawn once with ``seed`` (:func:`~gaplab.models.sphere_init`) and shared by
    the losses, so the losses are compared on identical starting points. Returns
    ``{(loss, init): FastRun}``.
    """
    from ..models.free import sphere_init

    pairs = [(lo, it) for lo in losses for it in inits]
    starts = {it: sphere_init(n, dim, it, seed=seed, **(init_kwargs or {})) for it in inits}
    x0 = np.stack([starts[it][0] for _, it in pairs])
    y0 = np.stack([starts[it][1] for _, it in pairs])
    kws = [dict((loss_kwargs or {}).get(lo, {})) for lo, _ in pairs]
    run = train_free_embeddings_fast(
        x0, y0, loss=[lo for lo, _ in pairs], temperature=temperature, lr=lr, batch_size=batch_size,
        steps=steps, seed=seed, loss_kwargs=kws, snapshot_steps=snapshot_steps, loss_every=loss_every,
        n_threads=n_threads,
    )
    out: dict[tuple[str, str], FastRun] = {}
    for i, key in enumerate(pairs):
        out[key] = FastRun(
            x=run.x[i], y=run.y[i], params_x=run.params_x[i], params_y=run.params_y[i],
            snapshots={s: (a[i], b[i]) for s, (a, b) in run.snapshots.items()},
            losses=None if run.losses is None else run.losses[i], loss_every=loss_every,
            steps=steps, seconds=run.seconds, runs=[run.runs[i] | {"init": key[1]}],
        )
    return out
