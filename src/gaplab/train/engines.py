r"""Engines: what turns a resolved spec into optimizer steps, behind one :class:`Engine` protocol.

* :class:`TorchEngine` — autograd over any model, loss, optimizer, swap and mismatch.
* :class:`NumbaEngine` — free embeddings only (:class:`~gaplab.models.FreeEmbeddings`), the
  hand-derived gradient in compiled loops (:mod:`gaplab.train.fast`): clip/simclr/slip, plain
  SGD with a constant lr, fixed/scheduled/learnable τ, fixed mismatch, no swap, ``drop_last``,
  CPU, float64. It runs the steps between two callback calls in one compiled chunk, and agrees
  with the torch engine to ~1e-13 in float64 (tested to 1e-10).

Both draw batches from the trainer's :class:`~gaplab.train.batches.BatchOrder` and advance
``trainer.step``; both return every step's logged values, so callbacks, the history and the
checkpoints are the same on both (see :class:`~gaplab.train.Trainer`). ``Trainer(engine="auto")``
picks numba when :func:`numba_reason` finds nothing against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ConfigError
from .history import NonFiniteLossError
from .losses import get_loss
from .swap import apply_swap
from .temperature import FixedTemperature, LearnableTemperature, ScheduledTemperature, Temperature

__all__ = ["Engine", "TorchEngine", "NumbaEngine", "numba_reason", "choose_engine", "take_rows"]


class Engine(Protocol):
    """Runs optimizer steps for a :class:`~gaplab.train.Trainer`.

    An engine is made from the trainer (``Engine(trainer)``) once its plan is resolved and
    reads from it: ``spec``, ``plan``, ``model``, ``temperature``, ``device``, ``order`` and
    ``text_index`` (the batch order and fixed mismatch), ``train_data``, ``step``.
    """

    name: str
    #: most steps per :meth:`advance` call (bounds the memory of the logs and batch indices)
    max_chunk: int

    def start(self) -> None:
        """Called at the start of every ``fit`` (after a checkpoint was restored)."""

    def advance(self, n_steps: int) -> dict[str, list[float]]:
        """Run ``n_steps`` steps from ``trainer.step``; return every step's logged values in order."""

    def state_dict(self) -> dict[str, Any]:
        """The engine's own part of a checkpoint (tensors and JSON values)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the engine's part of a checkpoint, as returned by :meth:`state_dict`."""
        ...


def numba_reason(spec: Any, model: Any = None, data: Any = None) -> str | None:
    """``None`` when the numba engine can run ``spec`` (with ``model``), else the reason it cannot.

    Without a model (``gaplab train``), ``spec.model`` must be a free-embedding dict; a model
    handed over must be a float64 :class:`~gaplab.models.FreeEmbeddings` (or ``spec.dtype``
    float64) trained without data.
    """
    from .fast import FAST_LOSSES

    if model is None:
        free = spec.model is not None and spec.model.get("kind") == "free"
        float64 = spec.dtype in (None, "float64")
    else:
        from ..models.free import FreeEmbeddings

        free = isinstance(model, FreeEmbeddings) and data is None
        float64 = spec.dtype == "float64" or (spec.dtype is None and free and model.x.dtype == torch.float64)
    temp = spec.temperature
    kernel_tau = not isinstance(temp, Temperature) or type(temp) in (FixedTemperature, ScheduledTemperature,
                                                                      LearnableTemperature)
    checks = [
        (free, "the model is not free embeddings trained on their own pairs"),
        (isinstance(spec.loss, str) and spec.loss in FAST_LOSSES,
         f"loss {spec.loss_name!r} has no numba kernel (valid: {', '.join(FAST_LOSSES)})"),
        (spec.optimizer == "sgd" and spec.momentum == 0 and spec.weight_decay == 0, "it needs plain SGD"),
        (not isinstance(spec.lr, dict) and not callable(spec.lr), "lr schedules are torch-only"),
        (spec.swap == "none", "modality swapping is torch-only"),
        (spec.mismatch_mode == "fixed", "mismatch_mode 'batch' is torch-only"),
        (spec.drop_last, "drop_last=False is torch-only"),
        (spec.device in ("cpu", "auto"), "the numba engine runs on the CPU"),
        (float64, "the numba engine computes in float64 (use a float64 model or dtype float64)"),
        (kernel_tau, f"temperature strategy {type(temp).__name__} has no numba kernel"),
        (not (spec.loss == "slip" and spec.loss_kwargs.get("simclr_temperature") is not None
              and not isinstance(temp, (int, float))), "slip's simclr_temperature needs a fixed temperature"),
    ]
    for ok, why in checks:
        if not ok:
            return why
    return None


def choose_engine(spec: Any, model: Any = None, data: Any = None) -> str:
    """``"torch"`` or ``"numba"`` for ``spec.engine`` (``auto``: numba when :func:`numba_reason` allows)."""
    reason = numba_reason(spec, model, data)
    if spec.engine == "numba" and reason is not None:
        raise ConfigError(f"engine 'numba' cannot run this config: {reason}; use engine 'torch' or 'auto'")
    if spec.engine == "numba" or (spec.engine == "auto" and reason is None):
        return "numba"
    return "torch"


def take_rows(data: Any, idx: np.ndarray, device: torch.device) -> Any:
    """Rows ``idx`` of a tensor, array or list, on ``device``."""
    if isinstance(data, Tensor):
        return data[torch.as_tensor(idx, device=data.device)].to(device)
    if isinstance(data, np.ndarray):
        return torch.as_tensor(data[idx]).to(device)
    if isinstance(data, (list, tuple)):
        return [data[int(i)] for i in idx]
    raise ConfigError(f"cannot index training data of type {type(data).__name__}")


def _logs_of(steps: list[dict[str, float]]) -> dict[str, list[float]]:
    keys: list[str] = []
    for s in steps:
        keys += [k for k in s if k not in keys]
    return {k: [s[k] for s in steps if k in s] for k in keys}


class TorchEngine:
    """Autograd steps: the loss, swap and batch-mismatch of the spec, SGD or AdamW."""

    name = "torch"
    max_chunk = 1000

    def __init__(self, trainer: Any) -> None:
        spec = trainer.spec
        self.trainer = trainer
        self.loss_fn = get_loss(spec.loss) if isinstance(spec.loss, str) else spec.loss
        self.bias: nn.Parameter | None = None
        if spec.loss_name == "siglip":
            self.bias = nn.Parameter(torch.tensor(float(spec.siglip_bias), device=trainer.device))
        self.gen = torch.Generator().manual_seed(spec.seed)
        self.optimizer = self._make_optimizer()
        self._batches: Iterator[tuple[Any, Any]] | None = None

    def _make_optimizer(self) -> torch.optim.Optimizer:
        tr, spec = self.trainer, self.trainer.spec
        groups = [([p for p in tr.model.parameters() if p.requires_grad], 1.0, spec.weight_decay)]
        if tr.temperature.learnable:
            groups.append((list(tr.temperature.parameters()), tr.temperature.lr_scale, 0.0))
        if self.bias is not None:
            groups.append(([self.bias], 1.0, 0.0))
        lr0 = tr.current_lr(0)
        params = [{"params": ps, "lr": lr0 * scale, "weight_decay": wd, "lr_scale": scale} for ps, scale, wd in groups if ps]
        if spec.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr0, momentum=spec.momentum)
        return torch.optim.AdamW(params, lr=lr0)

    def start(self) -> None:
        """Begin drawing batches at the trainer's current position in the batch order."""
        self._batches = self._iterate()

    def _iterate(self) -> Iterator[tuple[Any, Any]]:
        tr = self.trainer
        if tr.order is not None:
            a, b = tr.train_data
            while True:
                idx = tr.order.next()
                yield take_rows(a, idx, tr.device), take_rows(b, tr.text_index[idx], tr.device)
        while True:
            for batch in tr.train_data:
                a, b = batch[0], batch[1]
                yield (a.to(tr.device) if isinstance(a, Tensor) else a, b.to(tr.device) if isinstance(b, Tensor) else b)

    def _loss(self, x: Tensor, y: Tensor, step: int) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        tr, spec = self.trainer, self.trainer.spec
        tau = tr.temperature(step)
        if spec.mismatch and spec.mismatch_mode == "batch":
            n = x.shape[0]
            k = int(round(spec.mismatch * n))
            if k >= 2:
                chosen = torch.randperm(n, generator=self.gen)[:k].to(x.device)
                perm = torch.arange(n, device=x.device)
                perm[chosen] = torch.roll(chosen, -1)
                y = y[perm]
        if spec.swap != "none":
            x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
            x, y = apply_swap(spec.swap, x, y, spec.swap_p, self.gen, **spec.swap_kwargs)
        kw = dict(spec.loss_kwargs)
        if self.bias is not None:
            kw["bias"] = self.bias
        loss, parts = self.loss_fn(x, y, tau, **kw)
        return loss, parts, tau

    def train_step(self, batch: tuple[Any, Any]) -> dict[str, float]:
        """One optimizer step on ``batch`` = (images, texts); returns the logged floats."""
        tr = self.trainer
        step = tr.step
        for g in self.optimizer.param_groups:
            g["lr"] = tr.current_lr(step) * g.get("lr_scale", 1.0)
        self.optimizer.zero_grad(set_to_none=True)
        x, y = tr.model(batch[0], batch[1])
        loss, parts, tau = self._loss(x, y, step)
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise NonFiniteLossError(
                f"loss is {lv} at step {step + 1} (temperature {float(tau):.6g}, lr "
                f"{tr.current_lr(step):.6g}, loss {tr.spec.loss_name!r}); lower the learning rate, "
                "raise the temperature or check the inputs for NaN/inf"
            )
        loss.backward()
        self.optimizer.step()
        tr.temperature.clamp_()
        tr.step = step + 1
        logs = {"loss": lv, **{k: float(v.detach()) for k, v in parts.items()}}
        logs["temperature"] = float(tau.detach())
        return logs

    def advance(self, n_steps: int) -> dict[str, list[float]]:
        """Run ``n_steps`` :meth:`train_step` calls; return each logged name's values, one per step."""
        assert self._batches is not None, "TorchEngine.start() first"
        return _logs_of([self.train_step(next(self._batches)) for _ in range(n_steps)])

    def state_dict(self) -> dict[str, Any]:
        """The optimizer state, the swap/mismatch generator state and the SigLIP bias (or ``None``)."""
        return {"optimizer": self.optimizer.state_dict(), "gen": self.gen.get_state(),
                "bias": None if self.bias is None else self.bias.detach().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the optimizer, the generator and the SigLIP bias from :meth:`state_dict`."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["gen"].cpu())
        if self.bias is not None and state["bias"] is not None:
            with torch.no_grad():
                self.bias.copy_(state["bias"])


class NumbaEngine:
    """Free embeddings by the compiled kernels of :mod:`gaplab.train.fast` (see the module docstring).

    Works on float64 copies of the points (and of ν for a learnable τ), written back into the
    model and the temperature after every chunk, so ``trainer.embed()``, callbacks and
    checkpoints see the state at ``trainer.step`` exactly.
    """

    name = "numba"
    max_chunk = 50_000

    def __init__(self, trainer: Any) -> None:
        from .fast import check_simclr_temperature, kernel_loss, kernel_temperature

        spec = trainer.spec
        self.trainer = trainer
        self.lr = float(trainer.plan.lr)
        self.loss = kernel_loss(spec.loss, spec.loss_kwargs)
        self.temp = kernel_temperature(trainer.temperature, self.lr, trainer.total_steps)
        check_simclr_temperature(self.loss, self.temp)

    def start(self) -> None:
        """Copy the model's points (and ν of a learnable τ) and the text index into float64 arrays."""
        tr = self.trainer
        self.P = tr.model.x.detach().cpu().numpy().astype(np.float64, copy=True)[None]
        self.Q = tr.model.y.detach().cpu().numpy().astype(np.float64, copy=True)[None]
        nu = tr.temperature.nu.detach().item() if self.temp.learn else 0.0
        self.nu = np.array([[nu]], dtype=np.float64)
        self.tidx = np.ascontiguousarray(tr.text_index, dtype=np.int64)[None]

    def advance(self, n_steps: int) -> dict[str, list[float]]:
        """Run ``n_steps`` steps in one compiled call and write the points back into the model.

        Returns ``{"loss": [...], "temperature": [...]}``, one float per step. Raises
        :class:`~gaplab.train.history.NonFiniteLossError` if a loss or a point becomes NaN/inf.
        """
        from .fast import run_kernel

        tr = self.trainer
        lo = tr.step
        idx = tr.order.take(n_steps)[None]
        taus = self.temp.taus(lo, lo + n_steps)[None]
        losses, tau_rec = np.zeros((1, n_steps)), np.zeros((1, n_steps))
        run_kernel(self.P, self.Q, idx, self.tidx, taus, np.array([self.lr]), [self.loss], [self.temp], self.nu,
                   losses, tau_rec, 1, 0, tr.spec.batch_size)
        bad = ~np.isfinite(losses[0])
        if bad.any() or not (np.isfinite(self.P).all() and np.isfinite(self.Q).all()):
            k = int(np.argmax(bad)) if bad.any() else n_steps - 1
            raise NonFiniteLossError(
                f"loss is {losses[0, k]} at step {lo + k + 1} (temperature {tau_rec[0, k]:.6g}, lr {self.lr:.6g}, "
                f"loss {tr.spec.loss_name!r}); lower the learning rate, raise the temperature or check the "
                "inputs for NaN/inf"
            )
        with torch.no_grad():
            tr.model.x.copy_(torch.from_numpy(self.P[0]))
            tr.model.y.copy_(torch.from_numpy(self.Q[0]))
            if self.temp.learn:
                tr.temperature.nu.fill_(float(self.nu[0, 0]))
        tr.step = lo + n_steps
        return {"loss": losses[0].tolist(), "temperature": tau_rec[0].tolist()}

    def state_dict(self) -> dict[str, Any]:
        """Empty: the points and ν are saved as the model's and the temperature's state."""
        return {}  # the points and ν are the model's and the temperature's state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore (see :meth:`state_dict`); :meth:`start` re-reads the model."""
        pass
