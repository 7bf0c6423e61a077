r"""The :class:`Trainer`: one spec, one engine, callbacks, a :class:`~gaplab.train.History`, checkpoints.

Python API
----------
>>> import torch
>>> from gaplab.models import FreeEmbeddings
>>> from gaplab.train import Trainer
>>> model = FreeEmbeddings(100, 3, init="polar", seed=0)
>>> tr = Trainer(model, loss="clip", temperature=0.07, lr=0.01, batch_size=10, steps=50,
...              eval_every=25, seed=0)
>>> hist = tr.fit()                       # free embeddings need no data: pairs are 0..n-1
>>> hist["step"], round(hist["l2m"][0], 2), tr.engine.name
([0, 25, 50], 1.88, 'torch')

``Trainer(model, *, eval_data=None, callbacks=(), spec=None, **options)`` — the options are
the fields of :class:`~gaplab.train.TrainSpec` (``loss``, ``loss_kwargs``, ``temperature``,
``optimizer``, ``lr``, ``momentum``, ``weight_decay``, ``batch_size``, ``steps`` | ``epochs``,
``drop_last``, ``swap``, ``swap_p``, ``swap_kwargs``, ``mismatch``, ``mismatch_mode``,
``siglip_bias``, ``seed``, ``eval_every``, ``metrics``, ``device``, ``dtype``, ``engine``,
``progress``, ...), checked there and only there; or pass a validated ``spec``.

* ``model`` — a :class:`~gaplab.models.TwoTower` (or any module with ``forward(a, b) -> (x, y)``
  and ``encode_image``/``encode_text``), or a :class:`~gaplab.models.FreeEmbeddings`.
* ``fit(data=None, *, resume_from=None) -> History`` — ``data`` is ``(images, texts)``
  (tensors/arrays of N rows; texts may be a ``list[str]``) or any iterable of batches such as
  a ``DataLoader`` yielding ``(images, texts)``; ``None`` for free embeddings (pairs 0..N−1).
* ``engine`` — ``"auto"`` (default: numba when eligible, see
  :func:`~gaplab.train.engines.numba_reason`; a float32 model stays on torch), ``"torch"``,
  ``"numba"``. ``trainer.engine.name`` says which runs.
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
* ``seed`` fixes everything: data order (:class:`~gaplab.train.batches.BatchOrder`), mismatches,
  swaps. ``save_checkpoint(path)`` and ``fit(resume_from=path)`` continue bit-identically on
  CPU on both engines (indexable data; a DataLoader's own order is not restored): the model,
  the temperature, the engine's state (optimizer, generator), the batch order, the history and
  every callback's ``state_dict()``. A checkpoint holds tensors and JSON only (see
  :mod:`gaplab.train._state`; loading it runs no code). Resuming refuses a checkpoint written
  with other options (:data:`~gaplab.train.spec.RESUME_FIELDS`, named in the message), by the
  other engine, of a model of another size, one already past ``steps``, or a file that is
  not a gaplab checkpoint. ``trainer.run_info`` (a dict of JSON values) is saved too and must
  match on resume.

Errors: bad names/options raise :class:`~gaplab.ConfigError` / :class:`~gaplab.UnknownNameError`
listing the valid ones; a NaN/inf loss raises :class:`NonFiniteLossError` with the step and
the temperature.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ConfigError, GaplabError, InputError
from ..data.zero_shot import iter_batches
from ..models.adapters import resolve_device
from .batches import BatchOrder, mismatch_index
from .callbacks import Callback, MetricsCallback, TrainerState
from .engines import NumbaEngine, TorchEngine, choose_engine, take_rows
from .history import History, NonFiniteLossError, compute_metrics
from .spec import OPTIMIZERS, TrainPlan, TrainSpec

__all__ = ["Trainer", "NonFiniteLossError", "resolve_device", "mismatch_index", "OPTIMIZERS"]


def _length(data: Any) -> int:
    return int(data.shape[0]) if hasattr(data, "shape") else len(data)


class _Towers(Protocol):
    """The encoders a trained model has besides ``forward`` (see the module docstring)."""

    def encode_image(self, images: Any) -> Tensor: ...

    def encode_text(self, texts: Any) -> Tensor: ...


class Trainer:
    """Train a contrastive model with any registered loss, temperature strategy, swap and mismatch.

    See the module docstring for every parameter. After :meth:`fit`, ``trainer.history`` holds
    the metric records and ``trainer.step`` the number of optimizer steps taken. The trainer
    is the :class:`~gaplab.train.callbacks.TrainerState` its callbacks see.
    """

    def __init__(self, model: nn.Module, *, eval_data: Any = None, callbacks: Sequence[Callback] = (),
                 spec: TrainSpec | None = None, **options: Any) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"Trainer: model must be a torch nn.Module, got {type(model).__name__}")
        if spec is None:
            spec = TrainSpec.from_options(**options)
        elif options:
            raise ConfigError(f"Trainer: give spec=... or options, not both (got {', '.join(sorted(options))})")
        self.spec = spec
        self.model = model
        self.eval_data = eval_data
        self.metrics = spec.metric_names
        self.callbacks: list[Callback] = list(callbacks)
        if spec.eval_every is not None:
            self.callbacks.insert(0, MetricsCallback(spec.eval_every, self.metrics))
        self.engine_name = choose_engine(spec, model)
        self.device = torch.device("cpu") if self.engine_name == "numba" else resolve_device(spec.device)
        if spec.dtype is not None:
            self.model.to(getattr(torch, spec.dtype))
        self.model.to(self.device)
        self.history = History()
        self.step = 0
        #: JSON values saved in checkpoints that a resumed run must match (e.g. where it came from)
        self.run_info: dict[str, Any] = {}
        self.plan: TrainPlan | None = None
        self.total_steps: int | None = None
        self.temperature: Any = None
        self.engine: Any = None
        self.train_data: Any = None
        self.order: BatchOrder | None = None
        self.text_index: np.ndarray | None = None
        from ..models.free import FreeEmbeddings

        if spec.steps is not None:
            self._resolve(None)
        elif isinstance(model, FreeEmbeddings):  # epochs of its own pairs: the length is known now
            self._resolve(self._steps_per_epoch(model.n_pairs))

    # -- setup ---------------------------------------------------------------------------------
    def _steps_per_epoch(self, n: int) -> int:
        return BatchOrder(n, min(self.spec.batch_size, n), 0, drop_last=self.spec.drop_last).steps_per_epoch

    def _resolve(self, steps_per_epoch: int | None) -> None:
        """Build the plan (run length, temperature, lr) and the engine: once per trainer."""
        self.plan = self.spec.resolve(steps_per_epoch)
        self.total_steps = self.plan.total_steps
        self.temperature = self.plan.temperature
        self.temperature.to(self.device)
        self.engine = (NumbaEngine if self.engine_name == "numba" else TorchEngine)(self)

    def current_lr(self, step: int | None = None) -> float:
        """Learning rate of the model parameters at ``step`` (default: the current step)."""
        return self.plan.lr_at(self.step if step is None else step)  # type: ignore[union-attr]

    def temperature_value(self, step: int | None = None) -> float:
        """τ at ``step`` (default: the current step) as a float."""
        return self.temperature.value(self.step if step is None else step)

    @property
    def optimizer(self) -> Any:
        """The torch optimizer (torch engine only)."""
        return getattr(self.engine, "optimizer", None)

    def _prepare_data(self, data: Any) -> None:
        from ..models.free import FreeEmbeddings

        b = self.spec.batch_size
        if data is None:
            if not isinstance(self.model, FreeEmbeddings):
                raise ConfigError("Trainer.fit: data=None works only for FreeEmbeddings; pass (images, texts)")
            idx = torch.arange(self.model.n_pairs, device=self.device)
            data = (idx, idx)
        elif self.engine_name == "numba":
            raise ConfigError("Trainer.fit: the numba engine trains free embeddings on their own pairs; "
                              "call fit() without data, or use engine='torch'")
        if isinstance(data, tuple) and len(data) == 2:
            a, b_ = data
            if isinstance(a, Tensor):
                a = a.to(self.device)
            if isinstance(b_, Tensor):
                b_ = b_.to(self.device)
            n, nb = _length(a), _length(b_)
            if n != nb:
                raise ConfigError(f"Trainer.fit: images and texts need the same number of rows, got {n} and {nb}")
            if n < b:
                raise ConfigError(f"Trainer.fit: {n} pairs are fewer than batch_size={b}")
            self.train_data = (a, b_)
            self.order = BatchOrder(n, b, self.spec.seed, drop_last=self.spec.drop_last)
            if self.text_index is None:
                fixed = self.spec.mismatch if self.spec.mismatch_mode == "fixed" else 0.0
                self.text_index = mismatch_index(n, fixed, self.spec.seed)
            spe: int | None = self.order.steps_per_epoch
        elif isinstance(data, Iterable):
            if self.spec.mismatch and self.spec.mismatch_mode == "fixed":
                raise ConfigError("mismatch_mode='fixed' needs indexable (images, texts) data; use 'batch' with a DataLoader")
            self.train_data, self.order = data, None
            spe = len(data) if hasattr(data, "__len__") else None  # type: ignore[arg-type]
        else:
            raise ConfigError(f"Trainer.fit: data must be (images, texts) or an iterable of batches, got {type(data).__name__}")
        if self.plan is None:
            self._resolve(spe)

    # -- the loop ------------------------------------------------------------------------------
    def fit(self, data: Any = None, *, resume_from: str | os.PathLike[str] | None = None) -> History:
        """Train until ``total_steps`` (continuing from a checkpoint when ``resume_from`` is given)."""
        self._prepare_data(data)
        # what the callbacks see; _prepare_data has resolved the run length, so total_steps is
        # an int from here on (the TrainerState contract), which mypy cannot follow through self
        state = cast(TrainerState, self)
        if resume_from is not None:
            self.load_checkpoint(resume_from)
            if self.step > state.total_steps:
                raise ConfigError(
                    f"checkpoint {str(resume_from)!r} is at step {self.step}, past the {self.total_steps} steps "
                    f"asked for; ask for more than {self.step} steps to continue it, or train anew elsewhere"
                )
        total = int(state.total_steps)
        self.model.train()
        self.engine.start()
        for cb in self.callbacks:
            cb.on_fit_start(state)
        due = [cb.next_call(self.step, total) for cb in self.callbacks]
        bar = None
        if self.spec.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=self.step, desc=f"train {self.spec.loss_name}", leave=False)
        try:
            while self.step < total:
                total = int(state.total_steps)
                stop = min([d for d in due if d is not None and d > self.step] + [total, self.step + self.engine.max_chunk])
                before = self.step
                logs = self.engine.advance(stop - self.step)
                for cb in self.callbacks:
                    cb.on_logs(state, logs)
                last = {k: v[-1] for k, v in logs.items() if v}
                for i, cb in enumerate(self.callbacks):
                    d = due[i]
                    if d is not None and d <= self.step:
                        cb.on_step_end(state, self.step, last)
                        due[i] = cb.next_call(self.step, total)
                if bar is not None:
                    bar.update(self.step - before)
                    bar.set_postfix(loss=f"{last['loss']:.4f}", tau=f"{last['temperature']:.4g}")
        finally:
            if bar is not None:
                bar.close()
        for cb in self.callbacks:
            cb.on_fit_end(state)
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
                if self.train_data is None or self.order is None:
                    raise ConfigError("Trainer.embed: pass eval_data=(images, texts) for data given as a DataLoader")
                data = self.train_data
            a, b = data
            n = _length(a)
            towers = cast(_Towers, self.model)  # nn.Module does not declare the two encoders
            xs, ys = [], []
            for idx in iter_batches(np.arange(n), batch_size):
                ia, ib = take_rows(a, idx, self.device), take_rows(b, idx, self.device)
                xs.append(F.normalize(towers.encode_image(ia), dim=-1).double().cpu())
                ys.append(F.normalize(towers.encode_text(ib), dim=-1).double().cpu())
            return torch.cat(xs).numpy(), torch.cat(ys).numpy()
        finally:
            self.model.train(was_training)

    def evaluate(self, data: Any = None, metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Gap metrics of the current model on ``data`` (see :func:`~gaplab.train.history.compute_metrics`)."""
        x, y = self.embed(data)
        out = compute_metrics(x, y, self.metrics if metrics is None else metrics)
        out["temperature"] = self.temperature_value()
        return out

    # -- checkpoints ---------------------------------------------------------------------------
    def _callback_keys(self) -> list[str]:
        seen: dict[str, int] = {}
        keys = []
        for cb in self.callbacks:
            name = type(cb).__name__
            seen[name] = seen.get(name, 0) + 1
            keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
        return keys

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically (tensors and JSON values)."""
        return {
            "step": self.step,
            "engine": self.engine.name,
            "model": self.model.state_dict(),
            "temperature": self.temperature.state_dict(),
            "engine_state": self.engine.state_dict(),
            "batches": None if self.order is None else self.order.state_dict(),
            "text_index": None if self.text_index is None else self.text_index.copy(),
            "history": list(self.history.records),
            "callbacks": {k: cb.state_dict() for k, cb in zip(self._callback_keys(), self.callbacks, strict=True)},
            "config": self.spec.signature(),
            "run_info": _plain(self.run_info),
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`state_dict` atomically as tensors + JSON (:func:`gaplab.train._state.save_state`)."""
        from ._state import save_state

        return save_state(path, self.state_dict(), kind="checkpoint")

    def load_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (same model, options and engine).

        Loads with ``torch.load(weights_only=True)``: no code runs. A file that is not a gaplab
        checkpoint raises :class:`~gaplab.InputError`; one written with other options, by the
        other engine or for a model of another size raises :class:`~gaplab.ConfigError` naming
        what differs.
        """
        from ._state import load_state

        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"checkpoint {str(p)!r} does not exist")
        if self.engine is None:
            raise ConfigError("Trainer.load_checkpoint: call fit(data, resume_from=...) when training by epochs")
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
        if not isinstance(st, dict) or not {"step", "model", "engine", "config"} <= set(st):
            raise InputError(f"{where} is not a trainer checkpoint (keys {sorted(st) if isinstance(st, dict) else '?'})")
        differ: dict[str, tuple[Any, Any]] = {}
        for then, now in ((st.get("config") or {}, self.spec.signature()),
                          (st.get("run_info") or {}, _plain(self.run_info))):
            for k, v in now.items():
                if k not in differ and v is not None and then.get(k) is not None and then[k] != v:
                    differ[k] = (then[k], v)
        if differ:
            raise ConfigError(
                f"{where} was written with {', '.join(f'{k}={a!r}' for k, (a, _) in differ.items())}; "
                f"this run has {', '.join(f'{k}={b!r}' for k, (_, b) in differ.items())}. Resume with the "
                "same settings, or train anew in another folder"
            )
        if st["engine"] != self.engine.name:
            raise ConfigError(
                f"{where} was written by the {st['engine']} engine, but this run uses the {self.engine.name} "
                f"engine; resume with engine {st['engine']!r} (--engine {st['engine']})"
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
        self.temperature.load_state_dict(st["temperature"])
        self.engine.load_state_dict(st["engine_state"])
        if self.order is not None and st["batches"] is not None:
            self.order.load_state_dict(st["batches"])
        if st["text_index"] is not None:
            self.text_index = np.asarray(st["text_index"])
        self.history = History(st["history"])
        saved = st.get("callbacks") or {}
        for key, cb in zip(self._callback_keys(), self.callbacks, strict=True):
            if key in saved:
                cb.load_state_dict(saved[key])
        self.step = int(st["step"])


def _plain(d: Any) -> Any:
    """JSON-shaped copy (tuples → lists) so saved and current values compare equal."""
    import json

    from .._json import to_jsonable

    return json.loads(json.dumps(to_jsonable(d), default=repr))


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
