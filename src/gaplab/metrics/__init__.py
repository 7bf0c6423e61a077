"""Gap metrics: pure functions (:mod:`gaplab.metrics.functional`), a streaming suite, ``measure``.

Imports nothing else from gaplab beyond the error/validation/registry core, and torch only
when handed a tensor.
"""

from __future__ import annotations

from collections.abc import Callable

from .catalogue import (
    CATALOGUE,
    FAST_KEYS,
    MEASURE_KEYS,
    MetricInfo,
    markdown_table,
    metric_info,
    register_metric,
)
from .functional import (
    CollapseWarning,
    DimensionGap,
    SecondMoments,
    alignment,
    cka,
    cka_debiased,
    class_means,
    collapse_warnings,
    collapsed_modality_warning,
    count_distinct_rows,
    dimension_gap,
    effective_rank,
    frechet_distance,
    frechet_distance_centered,
    gap_vector,
    hubness,
    kendall_tau_distance,
    kmeans_agreement,
    l2i,
    l2m,
    linear_probe,
    linear_separability,
    logit_entropy,
    mean_cosine,
    mean_cosine_cross,
    mean_cosine_paired,
    mixed_modality_retrieval,
    moad,
    moad_iclr,
    mutual_knn,
    pair_stats,
    procrustes_distance,
    residual_gap,
    retrieval_ranks,
    retrieval_recall,
    rmg,
    second_moments,
    sliced_wasserstein,
    top_k_neighbours,
    uniformity,
    warn_if_collapsed,
    zero_shot_accuracy,
)
from .functional._stats import PairStats
from .functional.diagnostics import duplicate_row_share, input_warnings
from .intervals import bootstrap_measure, chance_levels, permutation_test
from .measure import measure
from .modalities import measure_modalities
from .reading import reading
from .suite import MetricSuite
from .tracker import GapTracker


def list_metrics(filter: str | None = None) -> list[str]:
    """Names of the registered metric functions (wildcards allowed, e.g. ``"mean_*"``)."""
    return CATALOGUE.list(filter)


def get_metric(name: str) -> Callable[..., object]:
    """The metric function registered as ``name`` (its metadata: :func:`metric_info`)."""
    return CATALOGUE.get(name).function


__all__ = [
    "MetricSuite", "PairStats", "measure", "MEASURE_KEYS", "FAST_KEYS", "CATALOGUE", "MetricInfo", "metric_info",
    "markdown_table", "list_metrics", "get_metric", "register_metric", "DimensionGap",
    "gap_vector", "l2m", "l2i", "rmg", "mean_cosine", "mean_cosine_paired", "mean_cosine_cross",
    "pair_stats", "alignment", "uniformity", "linear_separability", "retrieval_recall",
    "retrieval_ranks", "zero_shot_accuracy", "logit_entropy", "dimension_gap", "moad", "moad_iclr",
    "class_means", "kendall_tau_distance", "residual_gap", "SecondMoments", "second_moments", "cka",
    "cka_debiased", "procrustes_distance", "frechet_distance", "frechet_distance_centered",
    "effective_rank", "mutual_knn", "hubness", "top_k_neighbours", "sliced_wasserstein",
    "mixed_modality_retrieval", "kmeans_agreement", "linear_probe", "CollapseWarning", "collapse_warnings",
    "collapsed_modality_warning", "warn_if_collapsed", "count_distinct_rows", "input_warnings",
    "duplicate_row_share", "bootstrap_measure", "permutation_test", "chance_levels", "reading",
    "measure_modalities",
    "GapTracker",
]
