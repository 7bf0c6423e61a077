"""Downstream evaluation of embeddings before and after a gap mitigation.

:func:`compare` / :func:`evaluate` split the pairs by image (seeded), fit each mitigation on
the train split only, and report on the test split: the gap in two parts (centroid: L2M;
what centring cannot remove: RMG, L2I, :func:`sliced_wasserstein` of the centred modalities,
modality separability) and the tasks (zero-shot accuracy, retrieval R@1/5/10 both ways,
linear probes within and across modalities, k-means ARI/V-measure on the joint set,
mixed-modality retrieval). Anything that needs missing labels or class prompts is skipped
and listed in ``skipped``.

:func:`collapsed_modality_warning` (and :func:`collapse_warnings` for both modalities) flags a
modality whose rows are nearly all the same vector — an empty tokenizer, a broken image
processor — so that a meaningless gap is not reported silently.
"""

from __future__ import annotations

from .collapse import (
    CollapseWarning,
    collapse_warnings,
    collapsed_modality_warning,
    warn_if_collapsed,
)
from .core import ROW_KEYS, Split, compare, evaluate, split_pairs
from .distance import sliced_wasserstein
from .tasks import kmeans_agreement, linear_probe, mixed_modality_retrieval

__all__ = [
    "evaluate", "compare", "split_pairs", "Split", "ROW_KEYS", "sliced_wasserstein",
    "mixed_modality_retrieval", "kmeans_agreement", "linear_probe",
    "collapsed_modality_warning", "collapse_warnings", "warn_if_collapsed", "CollapseWarning",
]
