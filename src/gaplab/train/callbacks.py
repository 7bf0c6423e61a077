"""Callbacks, typed against the small :class:`TrainerState` protocol (torch-free).

A callback subclasses :class:`Callback` and overrides any of

* ``on_fit_start(state)`` — before the first step of ``fit`` (also after a resume);
* ``on_logs(state, logs)`` — after every run of steps, with every step's logged values in
  order (``logs[name]`` a sequence of floats, one per step; ``loss``, ``temperature`` and,
  on the torch engine, the loss parts): cheap, no model access;
* ``on_step_end(state, step, logs)`` — at the steps :meth:`Callback.next_call` asks for
  (every step by default), with the model at ``step`` and that step's logged floats;
* ``on_fit_end(state)`` — after the last step;
* ``state_dict()`` / ``load_state_dict(state)`` — what a checkpoint keeps of the callback
  (JSON values and arrays), so a resumed run continues it exactly.

Both engines call callbacks the same way; the numba engine runs the steps between two calls in
one compiled chunk, so a callback that asks for sparse steps (``next_call``) costs nothing in
between. The state is any object with the attributes of :class:`TrainerState` (the
:class:`~gaplab.train.Trainer` is one).

Built-ins:

* :class:`MetricsCallback` — every ``every`` steps (and at the first and last step) embeds the
  evaluation pairs and appends a record to ``state.history``: ``step``, ``loss`` (mean since
  the last record) and the mean loss parts, ``temperature``, ``lr`` and the gap metrics of
  :func:`~gaplab.train.history.compute_metrics`. The trainer adds one when ``eval_every`` is set.
* :class:`SnapshotCallback` — stores the (normalised) embeddings at chosen steps.
* :class:`CheckpointCallback` — writes a resumable checkpoint every ``every`` steps and at the end.
* :class:`LambdaCallback` — wraps plain functions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._errors import ConfigError
from .history import (
    DEFAULT_METRICS,
    History,
    NonFiniteLossError,
    check_metric_names,
    compute_metrics,
)

__all__ = [
    "TrainerState", "Callback", "MetricsCallback", "SnapshotCallback", "CheckpointCallback", "LambdaCallback",
]


@runtime_checkable
class TrainerState(Protocol):
    """What a callback may read of a training run (the :class:`~gaplab.train.Trainer` is one)."""

    step: int  #: optimizer steps taken
    total_steps: int  #: steps of the run
    history: History  #: the records so far
    eval_data: Any  #: held-out pairs for metrics (``None``: the training pairs)

    def temperature_value(self, step: int | None = None) -> float:
        """τ at ``step`` (default: the current step)."""
        ...

    def current_lr(self, step: int | None = None) -> float:
        """Learning rate of the model parameters at ``step`` (default: the current step)."""
        ...

    def embed(self, data: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised float64 embeddings of ``data`` (default ``eval_data``, then the training pairs)."""
        ...

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write everything needed to continue the run bit-identically."""
        ...


class Callback:
    """Base class: every hook is a no-op, ``on_step_end`` is asked for at every step, no state."""

    def next_call(self, step: int, total_steps: int) -> int | None:
        """The first step after ``step`` at which :meth:`on_step_end` must run (``None``: never)."""
        return step + 1

    def on_fit_start(self, state: TrainerState) -> None:
        """Run before the first step of ``fit`` (also after a resume); no-op by default."""
        pass

    def on_logs(self, state: TrainerState, logs: Mapping[str, Sequence[float]]) -> None:
        """Receive every step's logged floats since the last call (``logs[name]``, one per step); no-op."""
        pass

    def on_step_end(self, state: TrainerState, step: int, logs: dict[str, float]) -> None:
        """Run at a step asked for by :meth:`next_call`, with the model at ``step``; no-op by default."""
        pass

    def on_fit_end(self, state: TrainerState) -> None:
        """Run after the last step of ``fit``; no-op by default."""
        pass

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the callback (JSON values and arrays); empty by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned, so a resumed run continues exactly; no-op."""
        pass


def _next_multiple(step: int, every: int, total_steps: int, *, last: bool) -> int | None:
    nxt = (step // every + 1) * every
    if last and step < total_steps:
        return min(nxt, total_steps)
    return nxt if nxt <= total_steps else None


class MetricsCallback(Callback):
    """Every ``every`` steps (and at the first and last step) append gap metrics to the history.

    Parameters
    ----------
    every : int
        Interval in optimizer steps.
    metrics : sequence of str
        Keys of :data:`~gaplab.train.history.METRIC_FUNCTIONS`.
    eval_data : optional
        Held-out pairs ``(images, texts)``; default: the state's ``eval_data`` or, failing
        that, the training pairs (all points for :class:`~gaplab.models.FreeEmbeddings`).
    """

    def __init__(self, every: int, metrics: Sequence[str] = DEFAULT_METRICS, eval_data: Any = None) -> None:
        if isinstance(every, bool) or not (isinstance(every, int) and every >= 1):
            raise ConfigError(f"MetricsCallback: every must be a positive integer, got {every!r}")
        self.every = every
        self.metrics = check_metric_names(metrics)
        self.eval_data = eval_data
        self._sum: dict[str, float] = {}
        self._n = 0

    def state_dict(self) -> dict[str, Any]:
        """The running loss sums and step count since the last record."""
        return {"sum": dict(self._sum), "n": self._n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the running loss sums and step count of :meth:`state_dict`."""
        self._sum, self._n = {k: float(v) for k, v in state["sum"].items()}, int(state["n"])

    def next_call(self, step: int, total_steps: int) -> int | None:
        """The next multiple of ``every`` after ``step``, or ``total_steps`` if that comes first."""
        return _next_multiple(step, self.every, total_steps, last=True)

    def record(self, state: TrainerState, step: int, logs: dict[str, float] | None = None) -> dict[str, Any]:
        """Append one record at ``step`` to ``state.history`` and return it.

        The record holds ``step``, the mean of each logged loss value since the last record
        (or ``logs`` when no step was logged since), ``temperature``, ``lr`` and the gap
        metrics of the state's embeddings of ``eval_data``. The running sums are reset.

        Raises
        ------
        NonFiniteLossError
            If the embeddings contain NaN or inf.
        """
        rec: dict[str, Any] = {"step": step}
        if self._n:
            rec.update({k: v / self._n for k, v in self._sum.items()})
        elif logs:
            rec.update({k: v for k, v in logs.items() if k not in ("temperature", "lr")})
        rec["temperature"] = state.temperature_value(step)
        rec["lr"] = state.current_lr(step)
        x, y = state.embed(self.eval_data)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise NonFiniteLossError(
                f"the embeddings became NaN/inf by step {step} (temperature {rec['temperature']:.6g}, lr "
                f"{rec['lr']:.6g}); lower the learning rate, raise the temperature or check the inputs for NaN/inf"
            )
        rec.update(compute_metrics(x, y, self.metrics))
        self._sum, self._n = {}, 0
        state.history.append(rec)
        return rec

    def on_fit_start(self, state: TrainerState) -> None:
        """Record step 0 when the run starts fresh (no steps taken, empty history)."""
        if state.step == 0 and not len(state.history):
            self.record(state, 0)

    def on_logs(self, state: TrainerState, logs: Mapping[str, Sequence[float]]) -> None:
        """Add the logged loss values to the running sums (``temperature`` and ``lr`` are skipped)."""
        n = 0
        for k, v in logs.items():
            if k in ("temperature", "lr"):
                continue
            n = len(v)
            # a sequential float64 sum: the same number however the steps were chunked
            self._sum[k] = float(np.cumsum(np.concatenate(([self._sum.get(k, 0.0)], np.asarray(v, np.float64))))[-1])
        self._n += n

    def on_step_end(self, state: TrainerState, step: int, logs: dict[str, float]) -> None:
        """Append a record at ``step`` (see :meth:`record`)."""
        self.record(state, step)


class SnapshotCallback(Callback):
    """Keep the normalised embeddings (numpy) at the given steps: ``snapshots[step] = (x, y)``.

    Step 0 means the initial state. The snapshots are part of the checkpoint.
    """

    def __init__(self, steps: Sequence[int], eval_data: Any = None) -> None:
        self.steps = sorted({int(s) for s in steps})
        self.eval_data = eval_data
        self.snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def next_call(self, step: int, total_steps: int) -> int | None:
        """The first snapshot step after ``step`` (``None`` when none is left)."""
        return next((s for s in self.steps if s > step), None)

    def on_fit_start(self, state: TrainerState) -> None:
        """Take the snapshot of the starting step if it is asked for and not yet taken."""
        if state.step in self.steps and state.step not in self.snapshots:
            self.snapshots[state.step] = state.embed(self.eval_data)

    def on_step_end(self, state: TrainerState, step: int, logs: dict[str, float]) -> None:
        """Store ``snapshots[step] = state.embed(eval_data)`` if ``step`` is a snapshot step."""
        if step in self.steps:
            self.snapshots[step] = state.embed(self.eval_data)

    def state_dict(self) -> dict[str, Any]:
        """The snapshots taken so far, ``{"snapshots": {step: (x, y)}}``."""
        return {"snapshots": {int(s): (a, b) for s, (a, b) in self.snapshots.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the snapshots of :meth:`state_dict` (as numpy arrays)."""
        self.snapshots = {int(s): (np.asarray(a), np.asarray(b)) for s, (a, b) in state["snapshots"].items()}


class CheckpointCallback(Callback):
    """Write ``state.save_checkpoint(path)`` every ``every`` steps and at the end."""

    def __init__(self, path: str | os.PathLike[str], every: int) -> None:
        self.path, self.every = Path(path), int(every)

    def next_call(self, step: int, total_steps: int) -> int | None:
        """The next multiple of ``every`` after ``step`` (``None`` past ``total_steps``)."""
        return _next_multiple(step, self.every, total_steps, last=False)

    def on_step_end(self, state: TrainerState, step: int, logs: dict[str, float]) -> None:
        """Write the checkpoint to ``path``."""
        state.save_checkpoint(self.path)

    def on_fit_end(self, state: TrainerState) -> None:
        """Write the final checkpoint to ``path``."""
        state.save_checkpoint(self.path)


class LambdaCallback(Callback):
    """Callback from plain functions: ``LambdaCallback(on_step_end=lambda state, step, logs: ...)``.

    ``on_step_end`` runs at every step (on the numba engine too: one step per compiled call).
    """

    def __init__(
        self,
        on_fit_start: Callable[[TrainerState], None] | None = None,
        on_step_end: Callable[[TrainerState, int, dict[str, float]], None] | None = None,
        on_fit_end: Callable[[TrainerState], None] | None = None,
    ) -> None:
        self._start, self._step, self._end = on_fit_start, on_step_end, on_fit_end

    def next_call(self, step: int, total_steps: int) -> int | None:
        """Every step when an ``on_step_end`` function was given, else never."""
        return step + 1 if self._step else None

    def on_fit_start(self, state: TrainerState) -> None:
        """Call the ``on_fit_start`` function, if any."""
        if self._start:
            self._start(state)

    def on_step_end(self, state: TrainerState, step: int, logs: dict[str, float]) -> None:
        """Call the ``on_step_end`` function, if any."""
        if self._step:
            self._step(state, step, logs)

    def on_fit_end(self, state: TrainerState) -> None:
        """Call the ``on_fit_end`` function, if any."""
        if self._end:
            self._end(state)
