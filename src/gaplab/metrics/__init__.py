"""Gap metrics: pure functions (:mod:`gaplab.metrics.functional`), a streaming suite, ``measure``.

Imports nothing else from gaplab beyond the error/validation/registry core, and torch only
when handed a tensor.
"""

from __future__ import annotations

from collections.abc import Callable

from .._registry import Registry
from .functional import (
    DimensionGap,
    alignment,
    class_means,
    dimension_gap,
    gap_vector,
    kendall_tau_distance,
    l2i,
    l2m,
    linear_separability,
    logit_entropy,
    mean_cosine,
    mean_cosine_cross,
    mean_cosine_paired,
    moad,
    pair_stats,
    retrieval_ranks,
    retrieval_recall,
    rmg,
    uniformity,
    zero_shot_accuracy,
)
from .measure import MEASURE_KEYS, measure
from .suite import MetricSuite

METRICS: Registry[Callable[..., object]] = Registry("metric")
for _f in (
    gap_vector, l2m, l2i, rmg, mean_cosine, mean_cosine_paired, mean_cosine_cross, alignment,
    uniformity, linear_separability, retrieval_recall, zero_shot_accuracy, logit_entropy,
    dimension_gap, moad, kendall_tau_distance,
):
    METRICS.add(_f.__name__, _f)


def list_metrics(filter: str | None = None) -> list[str]:
    """Names of the registered metric functions (wildcards allowed, e.g. ``"mean_*"``)."""
    return METRICS.list(filter)


def get_metric(name: str) -> Callable[..., object]:
    """The metric function registered as ``name``."""
    return METRICS.get(name)


__all__ = [
    "MetricSuite", "measure", "MEASURE_KEYS", "list_metrics", "get_metric", "DimensionGap",
    "gap_vector", "l2m", "l2i", "rmg", "mean_cosine", "mean_cosine_paired", "mean_cosine_cross",
    "pair_stats", "alignment", "uniformity", "linear_separability", "retrieval_recall",
    "retrieval_ranks", "zero_shot_accuracy", "logit_entropy", "dimension_gap", "moad",
    "class_means", "kendall_tau_distance",
]
