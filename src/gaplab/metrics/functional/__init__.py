"""Pure metric functions on paired embeddings (numpy or torch in, floats out)."""

from .centroid import (
    gap_vector,
    l2i,
    l2m,
    mean_cosine,
    mean_cosine_cross,
    mean_cosine_paired,
    pair_stats,
    residual_gap,
    rmg,
)
from .diagnostics import (
    CollapseWarning,
    collapse_warnings,
    collapsed_modality_warning,
    count_distinct_rows,
    warn_if_collapsed,
)
from .dimensions import DimensionGap, dimension_gap
from .distance import sliced_wasserstein
from .entropy import logit_entropy
from .knn import hubness, mutual_knn, top_k_neighbours
from .neighbourhood import class_means, kendall_tau_distance, moad, moad_iclr
from .retrieval import retrieval_ranks, retrieval_recall, zero_shot_accuracy
from .separability import linear_separability
from .structure import (
    SecondMoments,
    cka,
    cka_debiased,
    effective_rank,
    frechet_distance,
    frechet_distance_centered,
    procrustes_distance,
    second_moments,
)
from .tasks import kmeans_agreement, linear_probe, mixed_modality_retrieval
from .uniformity import alignment, uniformity

__all__ = [
    "gap_vector", "l2m", "l2i", "rmg", "mean_cosine", "mean_cosine_paired", "mean_cosine_cross",
    "pair_stats", "alignment", "uniformity", "linear_separability", "retrieval_recall",
    "retrieval_ranks", "zero_shot_accuracy", "logit_entropy", "dimension_gap", "DimensionGap",
    "moad", "moad_iclr", "class_means", "kendall_tau_distance", "residual_gap", "SecondMoments", "second_moments",
    "cka", "cka_debiased", "procrustes_distance", "frechet_distance", "frechet_distance_centered",
    "effective_rank", "mutual_knn", "hubness", "top_k_neighbours", "sliced_wasserstein",
    "mixed_modality_retrieval", "kmeans_agreement", "linear_probe", "CollapseWarning", "collapse_warnings",
    "collapsed_modality_warning", "warn_if_collapsed", "count_distinct_rows",
]
