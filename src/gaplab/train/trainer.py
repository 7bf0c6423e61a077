r"""The training loop: one :class:`Trainer` for two-tower models and free embeddings.

Python API
----------
>>> import torch
>>> from gaplab.models import FreeEmbeddings
>>> from gaplab.train import Trainer
>>> model = FreeEmbeddings(100, 3, init="polar", seed=0)
>>> tr = Trainer(model, loss="clip", temperature=0.07, lr=0.01, batch_size=10, steps=50,
...              eval_every=25, seed=0)
>>> hist = tr.fit()                       # free embeddings need no data: pairs are 0..n-1
>>> hist["step"], round(hist["l2m"][0], 2)
([0, 25, 50], 1.88)

``Trainer(model, *, loss, loss_kwargs, temperature, optimizer, lr, momentum, weight_decay,
batch_size, steps | epochs, swap, swap_p, swap_kwargs, mismatch, mismatch_mode, seed,
eval_every, eval_data, metrics, callbacks, device, dtype, progress, drop_last, siglip_bias)``

* ``model`` — a :class:`~gaplab.models.TwoTower` (or any module with ``forward(a, b) -> (x, y)``
  and ``encode_image``/``encode_text``), or a :class:`~gaplab.models.FreeEmbeddings`.
* ``fit(data=None, *, resume_from=None) -> History`` — ``data`` is ``(images, texts)``
  (tensors/arrays of N rows; texts may be a ``list[str]``) or any iterable of batches such as
  a ``DataLoader`` yielding ``(images, texts)``; ``None`` for free embeddings (pairs 0..N−1).
* ``loss`` — a name of :func:`~gaplab.train.list_losses` (or a function with the loss
  signature); ``loss_kwargs`` its options (e.g. ``{"views": "self"}`` for slip).
* ``temperature`` — float (fixed), schedule callable, name of
  :func:`~gaplab.train.list_temperatures`, ``{"name": ..., **kw}`` or a Temperature.
* ``lr`` — float or schedule (step → lr). ``optimizer`` — ``"sgd"`` or ``"adamw"``.
* ``swap`` — ``"none" | "hard" | "soft"`` with probability ``swap_p`` (paper 002).
* ``mismatch`` — fraction of pairs whose texts are shuffled among themselves (002's and
  000's mismatched data). ``mismatch_mode="fixed"`` corrupts the dataset once (the same wrong
  pairs every epoch; needs indexable data); ``"batch"`` re-draws them in every batch.
* ``eval_every`` — record gap metrics (see :mod:`gaplab.train.callbacks`) every k steps on
  ``eval_data`` (held-out pairs; default: the training pairs).
* ``seed`` fixes everything: data order (numpy ``default_rng(seed)``, one permutation per
  epoch), mismatches, swaps. ``save_checkpoint(path)`` and ``fit(resume_from=path)`` continue
  bit-identically on CPU (indexable data; a DataLoader's own order is not restored).
  A checkpoint holds tensors and JSON only (see :mod:`gaplab.train._state`; loading it runs
  no code). Resuming refuses a checkpoint written with other options (seed, lr, loss, batch
  size, optimizer, ...; named in the message), of a model of another size, one already past
  ``steps``, or a file that is not a gaplab checkpoint. ``trainer.run_info`` (a dict of JSON
  values, e.g. the training config) is saved too and must match on resume.

Errors: bad names/options raise :class:`~gaplab.ConfigError` / :class:`~gaplab.UnknownNameError`
listing the valid ones; a NaN/inf loss raises :class:`NonFiniteLossError` with the step and
the temperature.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ConfigError, GaplabError, InputError
from .callbacks import DEFAULT_METRICS, Callback, History, MetricsCallback, check_metric_names
from .losses import check_loss_options, get_loss
from .swap import SWAPS, apply_swap
from .temperature import Temperature, make_temperature

__all__ = ["Trainer", "NonFiniteLossError", "resolve_device", "mismatch_index", "OPTIMIZERS"]

#: valid optimizer names
OPTIMIZERS = ("sgd", "adamw")


class NonFiniteLossError(GaplabError, FloatingPointError):
    """The loss became NaN or infinite during training."""


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → cuda when available else cpu; ``"cpu"``; ``"cuda"`` (error if absent)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
        return torch.device(device)
    raise ConfigError(f"unknown device {device!r}; valid: auto, cpu, cuda")


def mismatch_index(n: int, fraction: float, seed: int) -> np.ndarray:
    """Text index for mismatched pairs: a fraction of positions cycled among themselves.

    ``round(fraction * n)`` pairs (chosen by ``default_rng([seed, 1])``) each receive the text
    of the next chosen pair, so every chosen pair is wrong (for two or more) and the texts
    stay a permutation.

    >>> idx = mismatch_index(10, 0.3, 0)
    >>> int((idx != np.arange(10)).sum()), sorted(idx.tolist()) == list(range(10))
    (3, True)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"mismatch must be a fraction in [0, 1], got {fraction!r}")
    idx = np.arange(n)
    k = int(round(fraction * n))
    if k >= 2:
        chosen = np.random.default_rng([seed, 1]).choice(n, size=k, replace=False)
        idx[chosen] = np.roll(chosen, -1)
    return idx


def _take(data: Any, idx: np.ndarray, device: torch.device) -> Any:
    if isinstance(data, Tensor):
        return data[torch.as_tensor(idx, device=data.device)].to(device)
    if isinstance(data, np.ndarray):
        return torch.as_tensor(data[idx]).to(device)
    if isinstance(data, (list, tuple)):
        return [data[int(i)] for i in idx]
    raise ConfigError(f"cannot index training data of type {type(data).__name__}")


def _length(data: Any) -> int:
    return int(data.shape[0]) if hasattr(data, "shape") else len(data)


class Trainer:
    """Train a contrastive model with any registered loss, temperature strategy, swap and mismatch.

    See the module docstring for every parameter. After :meth:`fit`, ``trainer.history`` holds
    the metric records and ``trainer.step`` the number of optimizer steps taken.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        loss: str | Callable[..., Any] = "clip",
        loss_kwargs: dict[str, Any] | None = None,
        temperature: Any = 0.07,
        optimizer: str = "sgd",
        lr: float | Callable[[int], float] = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        batch_size: int = 10,
        steps: int | None = None,
        epochs: int | None = None,
        swap: str = "none",
        swap_p: float = 0.0,
        swap_kwargs: dict[str, Any] | None = None,
        mismatch: float = 0.0,
        mismatch_mode: str = "fixed",
        seed: int = 0,
        eval_every: int | None = None,
        eval_data: Any = None,
        metrics: Sequence[str] = DEFAULT_METRICS,
        callbacks: Sequence[Callback] = (),
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        progress: bool = False,
        drop_last: bool = True,
        siglip_bias: float = -10.0,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"Trainer: model must be a torch nn.Module, got {type(model).__name__}")
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
        self.loss_fn = get_loss(loss) if isinstance(loss, str) else loss
        self.loss_kwargs = dict(loss_kwargs or {})
        if isinstance(loss, str):
            check_loss_options(loss, self.loss_kwargs)
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if swap not in SWAPS:
            raise ConfigError(f"unknown swap {swap!r}; valid: {', '.join(SWAPS)}")
        if not 0.0 <= swap_p <= 1.0:
            raise ConfigError(f"swap_p must be a probability in [0, 1], got {swap_p!r}")
        if mismatch_mode not in ("fixed", "batch"):
            raise ConfigError(f"unknown mismatch_mode {mismatch_mode!r}; valid: fixed, batch")
        if not 0.0 <= mismatch <= 1.0:
            raise ConfigError(f"mismatch must be a fraction in [0, 1], got {mismatch!r}")
        if not (isinstance(batch_size, int) and batch_size >= 2):
            raise ConfigError(f"batch_size must be an integer >= 2 (contrastive losses need negatives), got {batch_size!r}")
        if steps is not None and epochs is not None:
            raise ConfigError("give steps or epochs, not both")
        if steps is None and epochs is None:
            raise ConfigError("give steps=... or epochs=...")
        for name, v in (("steps", steps), ("epochs", epochs)):
            if v is not None and not (isinstance(v, int) and v >= 1):
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if eval_every is not None and not (isinstance(eval_every, int) and eval_every >= 1):
            raise ConfigError(f"eval_every must be a positive integer, got {eval_every!r}")
        if isinstance(seed, bool) or not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
        if not callable(lr) and not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"lr must be a number > 0 or a schedule, got {lr!r}")
        self.metrics = check_metric_names(metrics)
        self.device = resolve_device(device)
        self.model = model
        if dtype is not None:
            self.model.to(dtype)
        self.model.to(self.device)
        self._temperature_spec = temperature
        self.optimizer_name, self.lr, self.momentum, self.weight_decay = optimizer, lr, momentum, weight_decay
        self.batch_size, self.steps, self.epochs, self.drop_last = batch_size, steps, epochs, drop_last
        self.swap, self.swap_p, self.swap_kwargs = swap, float(swap_p), dict(swap_kwargs or {})
        self.mismatch, self.mismatch_mode, self.seed = float(mismatch), mismatch_mode, int(seed)
        self.eval_every, self.eval_data, self.progress = eval_every, eval_data, progress
        self.callbacks: list[Callback] = list(callbacks)
        self.history = History()
        self.step = 0
        self.total_steps: int | None = steps
        self.bias: nn.Parameter | None = None
        if self.loss_name == "siglip":
            self.bias = nn.Parameter(torch.tensor(float(siglip_bias), device=self.device))
        # with epochs the length is known only in fit(), which rebuilds the strategy then
        self.temperature: Temperature = make_temperature(temperature, total_steps=steps if steps is not None else 1)
        self.temperature.to(self.device)
        self._metrics_cb: MetricsCallback | None = None
        if eval_every is not None:
            self._metrics_cb = MetricsCallback(eval_every, self.metrics)
            self.callbacks.insert(0, self._metrics_cb)
        self.optimizer = self._make_optimizer()
        self._rng = np.random.default_rng(self.seed)
        self._perm: np.ndarray | None = None
        self._pos = 0
        self._gen = torch.Generator().manual_seed(self.seed)
        self._text_index: np.ndarray | None = None
        self._data: Any = None
        #: JSON values saved in checkpoints that a resumed run must match (e.g. the config)
        self.run_info: dict[str, Any] = {}

    # -- setup ---------------------------------------------------------------------------------
    def _groups(self) -> list[tuple[list[nn.Parameter], float, float]]:
        groups = [([p for p in self.model.parameters() if p.requires_grad], 1.0, self.weight_decay)]
        if self.temperature.learnable:
            groups.append((list(self.temperature.parameters()), self.temperature.lr_scale, 0.0))
        if self.bias is not None:
            groups.append(([self.bias], 1.0, 0.0))
        return groups

    def _make_optimizer(self) -> torch.optim.Optimizer:
        lr0 = self.current_lr(0)
        groups = [
            {"params": ps, "lr": lr0 * scale, "weight_decay": wd, "lr_scale": scale}
            for ps, scale, wd in self._groups() if ps
        ]
        if self.optimizer_name == "sgd":
            return torch.optim.SGD(groups, lr=lr0, momentum=self.momentum)
        return torch.optim.AdamW(groups, lr=lr0)

    def current_lr(self, step: int) -> float:
        """Learning rate of the model parameters at ``step``."""
        return float(self.lr(step)) if callable(self.lr) else float(self.lr)

    def _prepare_data(self, data: Any) -> None:
        from ..models.free import FreeEmbeddings

        if data is None:
            if not isinstance(self.model, FreeEmbeddings):
                raise ConfigError("Trainer.fit: data=None works only for FreeEmbeddings; pass (images, texts)")
            n = self.model.n_pairs
            idx = torch.arange(n, device=self.device)
            data = (idx, idx)
        if isinstance(data, tuple) and len(data) == 2:
            a, b = data
            if isinstance(a, Tensor):
                a = a.to(self.device)
            if isinstance(b, Tensor):
                b = b.to(self.device)
            n, nb = _length(a), _length(b)
            if n != nb:
                raise ConfigError(f"Trainer.fit: images and texts need the same number of rows, got {n} and {nb}")
            if n < self.batch_size:
                raise ConfigError(f"Trainer.fit: {n} pairs are fewer than batch_size={self.batch_size}")
            self._data, self._n, self._indexable = (a, b), n, True
            self.steps_per_epoch = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            if self._text_index is None:
                fixed = self.mismatch if self.mismatch_mode == "fixed" else 0.0
                self._text_index = mismatch_index(n, fixed, self.seed)
        elif isinstance(data, Iterable):
            if self.mismatch and self.mismatch_mode == "fixed":
                raise ConfigError("mismatch_mode='fixed' needs indexable (images, texts) data; use 'batch' with a DataLoader")
            self._data, self._indexable = data, False
            self.steps_per_epoch = len(data) if hasattr(data, "__len__") else None  # type: ignore[arg-type]
        else:
            raise ConfigError(f"Trainer.fit: data must be (images, texts) or an iterable of batches, got {type(data).__name__}")
        if self.total_steps is None:
            if self.steps_per_epoch is None:
                raise ConfigError("epochs=... needs data with a length; give steps=... instead")
            self.total_steps = self.epochs * self.steps_per_epoch  # type: ignore[operator]
            self.temperature = make_temperature(self._temperature_spec, total_steps=self.total_steps)
            self.temperature.to(self.device)
            self.optimizer = self._make_optimizer()

    # -- batches -------------------------------------------------------------------------------
    def _next_indices(self) -> np.ndarray:
        b = self.batch_size
        if self._perm is None or self._pos + (b if self.drop_last else 1) > self._n:
            self._perm = self._rng.permutation(self._n)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + b]
        self._pos += b
        return idx

    def _batches(self):
        if self._indexable:
            a, b = self._data
            while True:
                idx = self._next_indices()
                yield _take(a, idx, self.device), _take(b, self._text_index[idx], self.device)
        else:
            while True:
                for batch in self._data:
                    a, b = batch[0], batch[1]
                    yield (a.to(self.device) if isinstance(a, Tensor) else a,
                           b.to(self.device) if isinstance(b, Tensor) else b)

    # -- the step ------------------------------------------------------------------------------
    def _loss(self, x: Tensor, y: Tensor, step: int) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        tau = self.temperature(step)
        if self.mismatch and self.mismatch_mode == "batch":
            n = x.shape[0]
            k = int(round(self.mismatch * n))
            if k >= 2:
                chosen = torch.randperm(n, generator=self._gen)[:k].to(x.device)
                perm = torch.arange(n, device=x.device)
                perm[chosen] = torch.roll(chosen, -1)
                y = y[perm]
        if self.swap != "none":
            x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
            x, y = apply_swap(self.swap, x, y, self.swap_p, self._gen, **self.swap_kwargs)
        kw = dict(self.loss_kwargs)
        if self.bias is not None:
            kw["bias"] = self.bias
        loss, parts = self.loss_fn(x, y, tau, **kw)
        return loss, parts, tau

    def train_step(self, batch: tuple[Any, Any]) -> dict[str, float]:
        """One optimizer step on ``batch`` = (images, texts); returns the logged floats."""
        step = self.step
        for g in self.optimizer.param_groups:
            g["lr"] = self.current_lr(step) * g.get("lr_scale", 1.0)
        self.optimizer.zero_grad(set_to_none=True)
        x, y = self.model(batch[0], batch[1])
        loss, parts, tau = self._loss(x, y, step)
        lv = float(loss.detach())
        if not math.isfinite(lv):
            raise NonFiniteLossError(
                f"loss is {lv} at step {step + 1} (temperature {float(tau):.6g}, lr "
                f"{self.current_lr(step):.6g}, loss {self.loss_name!r}); lower the learning rate, "
                "raise the temperature or check the inputs for NaN/inf"
            )
        loss.backward()
        self.optimizer.step()
        self.temperature.clamp_()
        self.step = step + 1
        logs = {"loss": lv, **{k: float(v.detach()) for k, v in parts.items()}}
        logs["temperature"] = float(tau.detach())
        return logs

    def fit(self, data: Any = None, *, resume_from: str | os.PathLike[str] | None = None) -> History:
        """Train until ``total_steps`` (continuing from a checkpoint when ``resume_from`` is given)."""
        self._prepare_data(data)
        if resume_from is not None:
            self.load_checkpoint(resume_from)
            if self.step > self.total_steps:  # type: ignore[operator]
                raise ConfigError(
                    f"checkpoint {str(resume_from)!r} is at step {self.step}, past the {self.total_steps} steps "
                    f"asked for; ask for more than {self.step} steps to continue it, or train anew elsewhere"
                )
        self.model.train()
        for cb in self.callbacks:
            cb.on_fit_start(self)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, desc=f"train {self.loss_name}", leave=False)
        batches = self._batches()
        try:
            while self.step < self.total_steps:  # type: ignore[operator]
                logs = self.train_step(next(batches))
                for cb in self.callbacks:
                    cb.on_step_end(self, self.step, logs)
                if bar is not None:
                    bar.update(1)
                    if self.step % 50 == 0:
                        bar.set_postfix(loss=f"{logs['loss']:.4f}", tau=f"{logs['temperature']:.4g}")
        finally:
            if bar is not None:
                bar.close()
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return self.history

    # -- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, data: Any = None, *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Normalised float64 numpy embeddings of ``data`` (default ``eval_data``, then the training pairs)."""
        from ..models.free import FreeEmbeddings

        data = data if data is not None else self.eval_data
        was_training = self.model.training
        self.model.eval()
        try:
            if data is None and isinstance(self.model, FreeEmbeddings):
                x, y = self.model.embeddings()  # metrics use the true pairs (i, i)
                return x.double().cpu().numpy(), y.double().cpu().numpy()
            if data is None:
                if self._data is None or not self._indexable:
                    raise ConfigError("Trainer.embed: pass eval_data=(images, texts) for data given as a DataLoader")
                data = self._data
            a, b = data
            n = _length(a)
            xs, ys = [], []
            for lo in range(0, n, batch_size):
                idx = np.arange(lo, min(n, lo + batch_size))
                ia, ib = _take(a, idx, self.device), _take(b, idx, self.device)
                xs.append(F.normalize(self.model.encode_image(ia), dim=-1).double().cpu())
                ys.append(F.normalize(self.model.encode_text(ib), dim=-1).double().cpu())
            return torch.cat(xs).numpy(), torch.cat(ys).numpy()
        finally:
            self.model.train(was_training)

    def evaluate(self, data: Any = None, metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Gap metrics of the current model on ``data`` (see :func:`~gaplab.train.callbacks.compute_metrics`)."""
        from .callbacks import compute_metrics

        x, y = self.embed(data)
        out = compute_metrics(x, y, self.metrics if metrics is None else metrics)
        out["temperature"] = self.temperature.value(self.step)
        return out

    # -- checkpoints ---------------------------------------------------------------------------
    def _signature(self) -> dict[str, Any]:
        """The options a resumed run must share with its checkpoint."""
        return {
            "loss": self.loss_name, "loss_kwargs": _plain(self.loss_kwargs), "seed": self.seed,
            "batch_size": self.batch_size, "optimizer": self.optimizer_name,
            "lr": None if callable(self.lr) else float(self.lr), "momentum": float(self.momentum),
            "weight_decay": float(self.weight_decay), "swap": self.swap, "swap_p": self.swap_p,
            "mismatch": self.mismatch, "mismatch_mode": self.mismatch_mode,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "temperature": self.temperature.state_dict(),
            "bias": None if self.bias is None else self.bias.detach().clone(),
            "rng": self._rng.bit_generator.state,
            "perm": None if self._perm is None else self._perm.copy(),
            "pos": self._pos,
            "gen": self._gen.get_state(),
            "text_index": None if self._text_index is None else self._text_index.copy(),
            "history": list(self.history.records),
            "metrics_cb": None if self._metrics_cb is None else self._metrics_cb.state_dict(),
            "config": self._signature(),
            "run_info": _plain(self.run_info),
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write everything needed to continue bit-identically (model, optimizer, RNGs, history).

        Tensors and JSON only (:func:`gaplab.train._state.save_state`), written atomically.
        """
        from ._state import save_state

        return save_state(path, self.state_dict(), kind="checkpoint")

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (same model and options).

        Loads with ``torch.load(weights_only=True)``: no code runs. A file that is not a gaplab
        checkpoint raises :class:`~gaplab.InputError`; one written with other options or for a
        model of another size raises :class:`~gaplab.ConfigError` naming what differs.
        """
        from ._state import load_state

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"checkpoint {str(p)!r} does not exist")
        st = load_state(p, kind="checkpoint", map_location=self.device)
        where = f"checkpoint {str(p)!r}"
        try:
            self._check_checkpoint(st, where)
            self._restore(st)
        except GaplabError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
            raise InputError(f"{where} could not be restored: {_first_line(e)}") from None

    def _check_checkpoint(self, st: dict[str, Any], where: str) -> None:
        if not isinstance(st, dict) or not {"step", "model", "optimizer", "config"} <= set(st):
            raise InputError(f"{where} is not a trainer checkpoint (keys {sorted(st) if isinstance(st, dict) else '?'})")
        differ: dict[str, tuple[Any, Any]] = {}
        for then, now in ((st.get("config") or {}, self._signature()),
                          (_flat(st.get("run_info") or {}), _flat(_plain(self.run_info)))):
            for k, v in now.items():
                if k not in differ and v is not None and then.get(k) is not None and then[k] != v:
                    differ[k] = (then[k], v)
        if differ:
            raise ConfigError(
                f"{where} was written with {', '.join(f'{k}={a!r}' for k, (a, _) in differ.items())}; "
                f"this run has {', '.join(f'{k}={b!r}' for k, (_, b) in differ.items())}. Resume with the "
                "same settings, or train anew in another folder"
            )
        have = self.model.state_dict()
        saved = st["model"]
        missing, extra = sorted(set(have) - set(saved)), sorted(set(saved) - set(have))
        if missing or extra:
            raise ConfigError(
                f"{where} holds another model: parameters {missing[:5]} missing, {extra[:5]} unexpected"
            )
        for k, v in have.items():
            if tuple(saved[k].shape) != tuple(v.shape):
                raise ConfigError(
                    f"{where} holds a model of another size: {k} has shape {tuple(saved[k].shape)} there, "
                    f"{tuple(v.shape)} here"
                )

    def _restore(self, st: dict[str, Any]) -> None:
        self.model.load_state_dict(st["model"])
        self.optimizer.load_state_dict(st["optimizer"])
        self.temperature.load_state_dict(st["temperature"])
        if self.bias is not None and st["bias"] is not None:
            with torch.no_grad():
                self.bias.copy_(st["bias"])
        self._rng.bit_generator.state = st["rng"]
        self._perm = None if st["perm"] is None else np.asarray(st["perm"])
        self._pos = int(st["pos"])
        self._gen.set_state(st["gen"].cpu())
        if st["text_index"] is not None:
            self._text_index = np.asarray(st["text_index"])
        self.history = History(st["history"])
        if self._metrics_cb is not None and st["metrics_cb"] is not None:
            self._metrics_cb.load_state_dict(st["metrics_cb"])
        self.step = int(st["step"])


def _plain(d: Any) -> Any:
    """JSON-shaped copy (tuples → lists) so saved and current values compare equal."""
    import json

    from .._json import to_jsonable

    return json.loads(json.dumps(to_jsonable(d), default=repr))


def _flat(info: dict[str, Any]) -> dict[str, Any]:
    """``run_info`` with one level of nested dicts spread out (``{"train_config": {...}}`` → its fields)."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update(v)
        else:
            out[k] = v
    return out


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
