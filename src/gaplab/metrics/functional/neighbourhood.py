"""Object bias (MOAD) and neighbourhood preservation (Kendall-τ) — Schrodi et al., ICLR 2025."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows, to_numpy

__all__ = ["moad", "class_means", "kendall_tau_distance"]


def _matching_score(x: np.ndarray, y: np.ndarray) -> float:
    """(1/n) Σ_i (x_i·y_i − 1/(n−1) Σ_{j≠i} x_i·y_j), in O(n·d)."""
    n = x.shape[0]
    paired = np.einsum("ij,ij->i", x, y, dtype=np.float64)
    cross = (x.sum(0, dtype=np.float64) @ y.sum(0, dtype=np.float64) - paired.sum()) / (n - 1)
    return float(paired.sum() / n - cross / n)


def moad(
    image_emb: Any,
    object_text_emb: Any,
    attribute_text_emb: Any,
    *,
    attribute_image_emb: Any = None,
) -> float:
    r"""Matching Object Attribute Distance: bias towards objects (> 0) or attributes (< 0).

    .. math::

        \mathrm{MOAD} = \frac{1}{4n}\sum_i\Big(x_{i,o}^\top y_{i,o} - \frac{1}{n-1}\sum_{j\ne i}x_{i,o}^\top y_{j,o}\Big)
                      - \frac{1}{4n}\sum_i\Big(x_{i,a}^\top y_{i,a} - \frac{1}{n-1}\sum_{j\ne i}x_{i,a}^\top y_{j,a}\Big)

    Schrodi et al., ICLR 2025, §4. Row i of ``object_text_emb`` embeds the object of sample
    i (e.g. "a photo of a 7"), row i of ``attribute_text_emb`` its attribute ("red"); both
    are compared with the image embedding of sample i (``attribute_image_emb`` if the
    attribute side uses other images). Rows are L2-normalised, so each bracket lies in
    [−2, 2] and MOAD in [−1, 1]. Exact in O(n·d).

    Examples
    --------
    >>> img = [[1.0, 0.0], [0.0, 1.0]]
    >>> round(moad(img, img, [[0.0, 1.0], [1.0, 0.0]]), 6)  # objects match, attributes anti-match
    0.5
    """
    x_o, y_o, _ = check_pair(image_emb, object_text_emb, where="moad")
    x_a = x_o if attribute_image_emb is None else attribute_image_emb
    x_a, y_a, _ = check_pair(x_a, attribute_text_emb, where="moad")
    if x_o.shape[1] != x_a.shape[1]:
        raise InputError(f"moad: object and attribute embeddings differ in d: {x_o.shape} vs {x_a.shape}")
    x_o, y_o, x_a, y_a = (normalize_rows(a) for a in (x_o, y_o, x_a, y_a))
    return (_matching_score(x_o, y_o) - _matching_score(x_a, y_a)) / 4.0


def class_means(emb: Any, labels: Any, *, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean (normalised) embedding of each class; returns ``(means (C, d), classes)``."""
    a = check_embeddings(emb, name="emb", where="class_means", min_rows=1)
    lab = to_numpy(labels)
    if lab.ndim != 1 or lab.shape[0] != a.shape[0]:
        raise InputError(f"class_means: labels must have shape ({a.shape[0]},), got {lab.shape}")
    if normalize:
        a = normalize_rows(a)
    classes, inv = np.unique(lab, return_inverse=True)
    sums = np.zeros((classes.size, a.shape[1]))
    np.add.at(sums, inv, a)
    return sums / np.bincount(inv)[:, None], classes


def kendall_tau_distance(
    x: Any, y: Any, *, labels: Any = None, text_labels: Any = None
) -> float:
    r"""Normalised Kendall-τ distance between neighbourhood orderings across modalities.

    For each class c, the other classes are ranked by cosine similarity to c's mean in image
    space and in text space; the distance of the two rankings is the share of discordant
    pairs, :math:`(1-\tau_b)/2 \in [0, 1]` (``scipy.stats.kendalltau``), averaged over c.

    .. math:: \mathrm{KTD} = \frac1C\sum_c \frac{1 - \tau_b\big(\cos(\mu^x_c, \mu^x_{\cdot}),\ \cos(\mu^y_c, \mu^y_{\cdot})\big)}{2}

    Schrodi et al., ICLR 2025, Table 1 (0 = orderings preserved, lower is better). ``x``,
    ``y`` are class means (C, d) row-aligned, or, with ``labels``, per-sample embeddings
    whose class means are taken first (``text_labels`` if the text rows carry other labels).
    Needs C ≥ 3.

    Examples
    --------
    >>> m = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    >>> kendall_tau_distance(m, m)
    0.0
    """
    from scipy.stats import kendalltau

    if labels is not None:
        mx, cx = class_means(x, labels)
        my, cy = class_means(y, labels if text_labels is None else text_labels)
        if not np.array_equal(cx, cy):
            raise InputError("kendall_tau_distance: image and text rows cover different classes")
    else:
        mx, my, _ = check_pair(x, y, where="kendall_tau_distance")
    mx, my = normalize_rows(np.asarray(mx, dtype=np.float64)), normalize_rows(np.asarray(my, dtype=np.float64))
    c = mx.shape[0]
    if c < 3:
        raise InputError(f"kendall_tau_distance: needs at least 3 classes, got {c}")
    sx, sy = mx @ mx.T, my @ my.T
    dists = []
    for k in range(c):
        others = np.r_[0:k, k + 1 : c]
        tau = kendalltau(sx[k, others], sy[k, others]).statistic
        dists.append((1.0 - (0.0 if np.isnan(tau) else tau)) / 2.0)
    return float(np.mean(dists))
