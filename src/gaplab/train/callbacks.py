"""Callbacks and the training history.

A callback subclasses :class:`Callback` and overrides any of ``on_fit_start(trainer)``,
``on_step_end(trainer, step, logs)`` (``logs``: ``loss``, ``temperature``, ``lr`` and the loss
parts as floats), ``on_fit_end(trainer)``. Built-ins:

* :class:`MetricsCallback` — every ``every`` steps, embeds the evaluation pairs and appends a
  record to ``trainer.history``: ``step``, ``loss`` (mean since the last record), the mean
  loss parts, ``temperature``, ``lr`` and the gap metrics of :data:`METRIC_FUNCTIONS`
  (computed by :mod:`gaplab.metrics`). The trainer adds one when ``eval_every`` is set.
* :class:`SnapshotCallback` — stores the (normalised) embeddings at chosen steps.
* :class:`CheckpointCallback` — writes a resumable checkpoint every ``every`` steps.
* :class:`LambdaCallback` — wraps plain functions.

:class:`History` is a list of records (dicts) with ``history["l2m"]`` (one column),
``to_json(path)``, ``to_csv(path)``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import ConfigError
from .._fs import atomic_write
from .._json import to_jsonable, write_json
from ..metrics import (
    alignment,
    l2m,
    linear_separability,
    mean_cosine,
    mean_cosine_cross,
    mean_cosine_paired,
    retrieval_recall,
    rmg,
    uniformity,
)

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

__all__ = [
    "Callback", "MetricsCallback", "SnapshotCallback", "CheckpointCallback", "LambdaCallback",
    "History", "METRIC_FUNCTIONS", "DEFAULT_METRICS", "compute_metrics",
]


#: metric name → function(x̂, ŷ) → float or dict of floats (keys become columns)
METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "l2m": lambda x, y: l2m(x, y),
    "rmg": lambda x, y: rmg(x, y),
    "mean_cos_image": lambda x, y: mean_cosine(x),
    "mean_cos_text": lambda x, y: mean_cosine(y),
    "mean_cos_paired": lambda x, y: mean_cosine_paired(x, y),
    "mean_cos_cross": lambda x, y: mean_cosine_cross(x, y),
    "alignment": lambda x, y: alignment(x, y),
    "uniformity": lambda x, y: {"uniformity_image": uniformity(x), "uniformity_text": uniformity(y)},
    "retrieval": lambda x, y: retrieval_recall(x, y, ks=(1, 5)),
    "linear_separability": lambda x, y: linear_separability(x, y),
}

#: metrics recorded when none are named (linear separability is opt-in: it fits a classifier)
DEFAULT_METRICS = (
    "l2m", "rmg", "mean_cos_image", "mean_cos_text", "mean_cos_paired", "mean_cos_cross",
    "alignment", "uniformity", "retrieval",
)


def check_metric_names(names: Sequence[str]) -> tuple[str, ...]:
    bad = [n for n in names if n not in METRIC_FUNCTIONS]
    if bad:
        raise ConfigError(f"unknown metric(s) {bad}; valid: {', '.join(METRIC_FUNCTIONS)}")
    return tuple(names)


def compute_metrics(x: Any, y: Any, metrics: Sequence[str] = DEFAULT_METRICS) -> dict[str, float]:
    """The named gap metrics of paired embeddings ``x``, ``y`` as a flat dict of floats."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out: dict[str, float] = {}
    for name in check_metric_names(metrics):
        v = METRIC_FUNCTIONS[name](xa, ya)
        if isinstance(v, dict):
            out.update({k: float(u) for k, u in v.items()})
        else:
            out[name] = float(v)
    return out


class History:
    """Records appended during training: one dict per evaluation.

    >>> h = History([{"step": 0, "l2m": 1.0}, {"step": 10, "l2m": 0.5}])
    >>> h["l2m"], len(h)
    ([1.0, 0.5], 2)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])

    def append(self, record: dict[str, Any]) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self.records[key]
        return [r.get(key) for r in self.records]

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1] if self.records else {}

    def columns(self) -> list[str]:
        cols: list[str] = []
        for r in self.records:
            cols += [k for k in r if k not in cols]
        return cols

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``{"records": [...]}`` as JSON (NaN → null)."""
        return write_json(path, {"records": to_jsonable(self.records)})

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write one row per record, columns in order of first appearance (atomically)."""
        cols = self.columns()

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=cols)
                w.writeheader()
                for r in self.records:
                    w.writerow({k: to_jsonable(v) for k, v in r.items()})

        return atomic_write(path, write)

    def __repr__(self) -> str:
        return f"History({len(self)} records, columns={self.columns()})"


class Callback:
    """Base class; every hook is a no-op."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass


class MetricsCallback(Callback):
    """Every ``every`` steps (and at the first and last step) append gap metrics to the history.

    Parameters
    ----------
    every : int
        Interval in optimizer steps.
    metrics : sequence of str
        Keys of :data:`METRIC_FUNCTIONS`.
    eval_data : optional
        Held-out pairs ``(images, texts)``; default: the trainer's ``eval_data`` or, failing
        that, the training pairs (all points for :class:`~gaplab.models.FreeEmbeddings`).
    """

    def __init__(self, every: int, metrics: Sequence[str] = DEFAULT_METRICS, eval_data: Any = None) -> None:
        if not (isinstance(every, int) and every >= 1):
            raise ConfigError(f"MetricsCallback: every must be a positive integer, got {every!r}")
        self.every = every
        self.metrics = check_metric_names(metrics)
        self.eval_data = eval_data
        self._sum: dict[str, float] = {}
        self._n = 0

    def state_dict(self) -> dict[str, Any]:
        return {"sum": dict(self._sum), "n": self._n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._sum, self._n = dict(state["sum"]), int(state["n"])

    def record(self, trainer: Trainer, step: int, logs: dict[str, float] | None = None) -> dict[str, Any]:
        rec: dict[str, Any] = {"step": step}
        if self._n:
            rec.update({k: v / self._n for k, v in self._sum.items()})
        elif logs:
            rec.update({k: v for k, v in logs.items() if k not in ("temperature", "lr")})
        rec["temperature"] = trainer.temperature.value(step)
        rec["lr"] = trainer.current_lr(step)
        x, y = trainer.embed(self.eval_data)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            from .trainer import NonFiniteLossError

            raise NonFiniteLossError(
                f"the embeddings became NaN/inf by step {step} (temperature {rec['temperature']:.6g}, lr "
                f"{rec['lr']:.6g}); lower the learning rate, raise the temperature or check the inputs for NaN/inf"
            )
        rec.update(compute_metrics(x, y, self.metrics))
        self._sum, self._n = {}, 0
        trainer.history.append(rec)
        return rec

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.step == 0 and not len(trainer.history):
            self.record(trainer, 0)

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            if k not in ("temperature", "lr"):
                self._sum[k] = self._sum.get(k, 0.0) + v
        self._n += 1
        if step % self.every == 0 or step == trainer.total_steps:
            self.record(trainer, step)


class SnapshotCallback(Callback):
    """Keep the normalised embeddings (numpy) at the given steps: ``snapshots[step] = (x, y)``.

    Step 0 means the initial state.
    """

    def __init__(self, steps: Sequence[int], eval_data: Any = None) -> None:
        self.steps = sorted({int(s) for s in steps})
        self.eval_data = eval_data
        self.snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.step in self.steps:
            self.snapshots[trainer.step] = trainer.embed(self.eval_data)

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        if step in self.steps:
            self.snapshots[step] = trainer.embed(self.eval_data)


class CheckpointCallback(Callback):
    """Write ``trainer.save_checkpoint(path)`` every ``every`` steps and at the end."""

    def __init__(self, path: str | os.PathLike[str], every: int) -> None:
        self.path, self.every = Path(path), int(every)

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        if step % self.every == 0:
            trainer.save_checkpoint(self.path)

    def on_fit_end(self, trainer: Trainer) -> None:
        trainer.save_checkpoint(self.path)


class LambdaCallback(Callback):
    """Callback from plain functions: ``LambdaCallback(on_step_end=lambda tr, step, logs: ...)``."""

    def __init__(
        self,
        on_fit_start: Callable[[Trainer], None] | None = None,
        on_step_end: Callable[[Trainer, int, dict[str, float]], None] | None = None,
        on_fit_end: Callable[[Trainer], None] | None = None,
    ) -> None:
        self._start, self._step, self._end = on_fit_start, on_step_end, on_fit_end

    def on_fit_start(self, trainer: Trainer) -> None:
        if self._start:
            self._start(trainer)

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        if self._step:
            self._step(trainer, step, logs)

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._end:
            self._end(trainer)
