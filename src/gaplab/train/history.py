"""The training history and the gap metrics tracked over training (torch-free).

:class:`History` is a list of records (dicts): ``history["l2m"]`` is one column,
``history[0]`` one record; ``to_json(path)`` writes ``{"records": [...]}`` and ``to_csv``
one row per record. A run's ``run.json`` holds the same ``{"records": [...]}``.

:func:`compute_metrics` turns paired embeddings into the tracked gap metrics, each computed by
:mod:`gaplab.metrics`. A tracked metric is selected by name (:data:`METRIC_FUNCTIONS`) and
writes the output keys of :data:`METRIC_KEYS`, which are the keys :func:`gaplab.measure`
reports for the same quantity (:data:`gaplab.metrics.MEASURE_KEYS`): one name per quantity.

>>> import numpy as np
>>> x = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([[0.0, 1.0], [1.0, 0.0]])
>>> compute_metrics(x, y, ["l2m", "mean_cos_paired"])
{'l2m': 0.0, 'mean_cos_paired': 0.0}
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, GaplabError
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

__all__ = ["History", "METRIC_FUNCTIONS", "METRIC_KEYS", "DEFAULT_METRICS", "compute_metrics",
           "check_metric_names", "NonFiniteLossError"]


class NonFiniteLossError(GaplabError, FloatingPointError):
    """The loss (or the embeddings) became NaN or infinite during training."""


#: tracked metric name → function(x̂, ŷ) → float or dict of floats (keys become columns)
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

#: tracked metric name → the output keys it writes (all keys of :data:`gaplab.metrics.MEASURE_KEYS`)
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    **{k: (k,) for k in METRIC_FUNCTIONS if k not in ("uniformity", "retrieval")},
    "uniformity": ("uniformity_image", "uniformity_text"),
    "retrieval": ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"),
}

#: metrics recorded when none are named (linear separability is opt-in: it fits a classifier)
DEFAULT_METRICS = (
    "l2m", "rmg", "mean_cos_image", "mean_cos_text", "mean_cos_paired", "mean_cos_cross",
    "alignment", "uniformity", "retrieval",
)


def check_metric_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple; unknown names raise :class:`~gaplab.ConfigError` listing the valid ones."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ConfigError(f"metrics must be a list of metric names, got {names!r}")
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
        self.records: list[dict[str, Any]] = [dict(r) for r in (records or [])]

    def append(self, record: dict[str, Any]) -> None:
        """Add a copy of ``record`` at the end."""
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self.records[key]
        return [r.get(key) for r in self.records]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.records == other.records

    __hash__ = None  # type: ignore[assignment]

    @property
    def last(self) -> dict[str, Any]:
        """The latest record (``{}`` when there is none)."""
        return self.records[-1] if self.records else {}

    def columns(self) -> list[str]:
        """Every key of any record, in order of first appearance."""
        cols: list[str] = []
        for r in self.records:
            cols += [k for k in r if k not in cols]
        return cols

    def to_dict(self) -> dict[str, Any]:
        """``{"records": [...]}`` with JSON values (NaN → null), as in ``run.json``."""
        return {"records": to_jsonable(self.records)}

    def to_json(self, path: str | os.PathLike[str]) -> Path:
        """Write ``{"records": [...]}`` as JSON (NaN → null)."""
        return write_json(path, self.to_dict())

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
