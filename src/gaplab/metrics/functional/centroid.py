"""Centroid and cosine metrics, exact in O(N·d): gap vector, L2M, L2I, RMG, mean cosines.

All of them are functions of the float64 sums in :class:`~gaplab.metrics.functional._stats.PairStats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._validation import check_pair
from ._stats import PairStats, accumulate

__all__ = [
    "pair_stats",
    "gap_vector",
    "l2m",
    "l2i",
    "rmg",
    "mean_cosine",
    "mean_cosine_paired",
    "mean_cosine_cross",
    "residual_gap",
]


def pair_stats(
    x: Any,
    y: Any,
    *,
    image_index: Any = None,
    normalize: bool = True,
    alpha: float = 2.0,
    where: str = "pair_stats",
) -> PairStats:
    """Validate ``x``, ``y`` and return their :class:`PairStats` (one blockwise float64 pass)."""
    xa, ya, idx = check_pair(x, y, where=where, image_index=image_index, check_values=False)
    stats = PairStats(dim=xa.shape[1], normalize=normalize, alpha=alpha)
    return accumulate(stats, xa, ya, idx, where=where)


def gap_vector(x: Any, y: Any, *, image_index: Any = None, normalize: bool = True) -> np.ndarray:
    r"""Modality gap vector: the difference of the modality centroids.

    .. math:: \Delta = \frac{1}{N}\sum_i \hat x_i - \frac{1}{K}\sum_k \hat y_k

    Liang et al., "Mind the Gap", NeurIPS 2022, §3 (the gap vector they shift along);
    Schrodi et al., ICLR 2025, §3. With ``image_index`` every image counts once.

    Examples
    --------
    >>> gap_vector([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 2.0]])
    array([ 1., -1.])
    """
    return pair_stats(x, y, image_index=image_index, normalize=normalize, where="gap_vector").gap_vector()


def l2m(x: Any, y: Any, *, image_index: Any = None, normalize: bool = True) -> float:
    r"""L2M: Euclidean distance between the modality means (the usual "modality gap").

    .. math:: \mathrm{L2M} = \Big\lVert \frac{1}{N}\sum_i \hat x_i - \frac{1}{K}\sum_k \hat y_k \Big\rVert_2

    Liang et al., NeurIPS 2022 ("gap distance"); Schrodi et al., ICLR 2025, §3.
    Rows are L2-normalised first unless ``normalize=False``.

    Examples
    --------
    >>> round(l2m([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 3.0]]), 6)  # ‖(1,0)−(0,1)‖ = √2
    1.414214
    """
    return pair_stats(x, y, image_index=image_index, normalize=normalize, where="l2m").l2m()


def l2i(x: Any, y: Any, *, image_index: Any = None, normalize: bool = True) -> float:
    r"""L2I: mean instance-wise distance between matched pairs.

    .. math:: \mathrm{L2I} = \frac{1}{K}\sum_k \lVert \hat x_{\pi(k)} - \hat y_k \rVert_2

    with :math:`\pi` = ``image_index`` (identity for one-to-one pairs). The "instance-wise"
    distance of the official code of Schrodi et al., ICLR 2025.

    Examples
    --------
    >>> round(l2i([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]), 6)  # (0 + √2)/2
    0.707107
    """
    return pair_stats(x, y, image_index=image_index, normalize=normalize, where="l2i").l2i()


def rmg(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Relative modality gap (RMG) of Schrodi et al., ICLR 2025, with d(u, v) = (1 − cos(u, v))/2.

    .. math::

        \mathrm{RMG} = \frac{\frac1N\sum_i d(x_i, y_i)}
        {\frac{1}{2N(N-1)}\Big(\sum_{i\ne j} d(x_i,x_j) + \sum_{i\ne j} d(y_i,y_j)\Big)
         + \frac1N\sum_i d(x_i,y_i)}

    Computed exactly in O(N·d) with the identity
    :math:`\sum_{i\ne j}\cos(x_i,x_j) = \lVert\sum_i \hat x_i\rVert^2 - N`, so the mean
    intra-modality distance is :math:`(1 - (\lVert\sum\hat x\rVert^2 - N)/(N(N-1)))/2`.
    With ``image_index`` (K captions for N images) the match term averages over the K
    captions, the image term over the N(N−1) image pairs and the text term over the
    K(K−1) caption pairs, as 004's code does for COCO. Cosine-based, so normalisation is
    implied. 0 means matched pairs coincide; values towards 1 mean matched pairs lie far
    apart relative to the spread of points within each modality.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0]]
    >>> round(rmg(x, x), 6)  # identical modalities: no gap
    0.0
    >>> round(rmg(x, [[-1.0, 0.0], [0.0, -1.0]]), 6)  # antipodal pairs: match 1, intra 0.5
    0.666667
    """
    return pair_stats(x, y, image_index=image_index, where="rmg").rmg()


def mean_cosine(x: Any) -> float:
    r"""Mean off-diagonal cosine similarity within one modality: the cone effect.

    .. math:: \frac{1}{N(N-1)}\sum_{i\ne j}\cos(x_i,x_j) = \frac{\lVert\sum_i\hat x_i\rVert^2 - N}{N(N-1)}

    Liang et al., NeurIPS 2022, §2 (Fig. 2: random networks map inputs into a narrow cone).

    Examples
    --------
    >>> round(mean_cosine([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), 6)  # (0 + 2·0.7071)·2 / 6
    0.471405
    """
    return pair_stats(x, x, where="mean_cosine").mean_cos_x()


def mean_cosine_paired(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Mean cosine of matched pairs, :math:`\frac1K\sum_k \cos(x_{\pi(k)}, y_k)`.

    Examples
    --------
    >>> mean_cosine_paired([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]])
    0.5
    """
    return pair_stats(x, y, image_index=image_index, where="mean_cosine_paired").mean_cos_paired()


def mean_cosine_cross(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Mean cosine of unmatched image–text combinations (i ≠ j).

    .. math:: \frac{(\sum_i\hat x_i)\cdot(\sum_k\hat y_k) - \sum_k \hat x_{\pi(k)}\cdot\hat y_k}{NK - K}

    Examples
    --------
    >>> mean_cosine_cross([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]])
    0.5
    """
    return pair_stats(x, y, image_index=image_index, where="mean_cosine_cross").mean_cos_cross()


def residual_gap(x: Any, y: Any, *, image_index: Any = None, normalize: bool = True) -> float:
    r"""The part of the pair distance that closing the centroid gap leaves (a "distribution gap").

    .. math:: \operatorname{tr}\operatorname{Cov}(\hat x_{\pi(k)} - \hat y_k)
              = \frac1K\sum_k\lVert \hat x_{\pi(k)} - \hat y_k\rVert^2
              - \Big\lVert \frac1K\sum_k (\hat x_{\pi(k)} - \hat y_k)\Big\rVert^2

    so that ``alignment = l2m² + residual_gap`` exactly for one-to-one pairs (and whenever
    every image has the same number of captions). Centering or shifting along the gap
    vector removes ``l2m`` but leaves this term. O(N·d), streamable. In the spirit of
    Schrodi et al., ICLR 2025 (RMG: what L2M misses) and of the "distribution gap" of
    post-hoc alignment work.

    Examples
    --------
    >>> residual_gap([[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]])  # pairs swapped: all residual
    2.0
    """
    return pair_stats(x, y, image_index=image_index, normalize=normalize, where="residual_gap").residual_gap()
