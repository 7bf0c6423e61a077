r"""Calibrate image–text scores into P(match): what cosine means "this caption fits this image".

A matched CLIP pair often scores a cosine of only about 0.3 (the modality gap pulls every
cross-modal cosine down), so the raw score does not say how likely a match is. This module
fits a monotone map from the score to the probability of a match, at a stated base rate
(``prior``), and measures how well it holds on held-out images.

* Positives are the matched pairs (row i of each, or caption k with image ``image_index[k]``);
  negatives are every unmatched image–text pair, or a seeded sample of ``max_negatives``.
* :class:`Calibrator` (``method="isotonic"`` or ``"platt"``) follows the mitigations' contract
  (``__init__`` stores its arguments; ``fit`` returns ``self``; state ends in ``_``;
  ``get_params`` / ``set_params``; JSON ``save`` / :func:`load_calibrator`).
* :func:`pairs_auc` is the exact Mann–Whitney AUC over all N·K pairs (sort-based, blockwise),
  sampled beyond ``max_pairs`` with its standard error.
* :func:`calibrate_pairs` is what ``gaplab calibrate`` does: split by image, fit both maps on
  one half, report ``auc``, ``ece_test``, the reliability bins and the cosine thresholds that
  reach a precision or recall.

The prior
---------
Of the N·K pairs only K match, so the raw base rate is about 1/N, and a probability fitted on
it answers "is this one of N candidates the match?". ``prior = π`` asks instead for the
probability at base rate π (default 0.5, balanced): positives get weight π/n₊ and negatives
(1 − π)/n₋, so the weighted data have base rate π and the fitted map estimates

.. math::

    P_\pi(\mathrm{match} \mid s) = \frac{\pi\, p(s \mid 1)}{\pi\, p(s \mid 1) + (1 - \pi)\, p(s \mid 0)},

the Bayes prior shift of Saerens, Latinne & Decaestecker (Neural Computation 14, 2002, eq. 2.4)
and Elkan (IJCAI 2001, Theorem 2): ``logit P_π = logit P_raw + logit π − logit(n₊/(n₊+n₋))``.
ECE and precision are evaluated with the same weights, i.e. at the same base rate.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._errors import ConfigError, InputError, NotFittedError
from .._fs import atomic_write
from .._registry import check_options
from .._validation import check_pair, normalize_rows, to_numpy
from .evaluate import split_pairs

__all__ = [
    "Calibrator",
    "CALIBRATION_METHODS",
    "CalibrationResult",
    "calibrate_pairs",
    "pair_scores",
    "pairs_auc",
    "mann_whitney_auc",
    "prior_weights",
    "expected_calibration_error",
    "reliability_bins",
    "operating_thresholds",
    "reliability_figure",
    "load_calibrator",
]

#: the maps :class:`Calibrator` fits
CALIBRATION_METHODS = ("isotonic", "platt")

#: precision and recall targets of the reported thresholds
PRECISION_TARGETS = (0.9, 0.95, 0.99)
RECALL_TARGETS = (0.9,)

_FORMAT = "gaplab.calibrator/1"
_BLOCK = 1 << 22  # similarity entries per block (32 MiB of float64)
_DECIMALS = 12  # cosines are rounded to this many decimals before ranking (see _cos)


# -- scores ------------------------------------------------------------------------------------
def _cos(a: np.ndarray) -> np.ndarray:
    """Cosines rounded to 1e-12: pairs equal in exact arithmetic tie, whatever BLAS rounded.

    A matched and an unmatched pair with the same true cosine (duplicate captions, integer
    embeddings) come out of different products (``einsum`` rows vs a blocked matmul) and can
    differ in the last bit, which would break the tie at random.
    """
    return np.round(a, _DECIMALS)


def _unit_pairs(x: Any, y: Any, image_index: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xa, ya, idx = check_pair(x, y, where=where, image_index=image_index)
    if idx is None:
        idx = np.arange(ya.shape[0])
    if np.unique(idx).size < 2:
        raise InputError(f"{where}: needs captions of at least 2 images to have unmatched pairs, "
                         f"got {np.unique(idx).size}")
    return normalize_rows(xa.astype(np.float64)), normalize_rows(ya.astype(np.float64)), idx


def _check_count(v: Any, name: str, where: str, *, allow_none: bool = True) -> int | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise InputError(f"{where}: {name} must be a positive integer{' or None' if allow_none else ''}, got {v!r}")
    return int(v)


def _negatives_all(xs: np.ndarray, ys: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Cosines of every unmatched (image, caption) pair, image-major order."""
    n_t = ys.shape[0]
    rows = max(1, _BLOCK // max(n_t, 1))
    out = []
    for start in range(0, xs.shape[0], rows):
        s = xs[start:start + rows] @ ys.T
        keep = np.ones(s.shape, dtype=bool)
        k = np.flatnonzero((local >= start) & (local < start + rows))
        keep[local[k] - start, k] = False
        out.append(_cos(s[keep]))
    return np.concatenate(out) if out else np.zeros(0)


def _sample_unmatched(n_i: int, n_t: int, local: np.ndarray, m: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` distinct unmatched (image, caption) positions, drawn uniformly without replacement."""
    total = n_i * n_t
    n_neg = total - n_t
    m = min(m, n_neg)
    draw = min(total, m + int(math.ceil(2.0 * m * n_t / total)) + 16)  # room for the matched ones
    while True:
        flat = rng.choice(total, size=draw, replace=False)  # in random order
        rows, cols = np.divmod(flat, n_t)
        keep = local[cols] != rows
        if keep.sum() >= m or draw == total:
            rows, cols = rows[keep][:m], cols[keep][:m]
            return rows, cols
        draw = min(total, 2 * draw)


def _row_dots(xs: np.ndarray, ys: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    out = np.empty(rows.size)
    step = max(1, _BLOCK // max(xs.shape[1], 1))
    for s in range(0, rows.size, step):
        r, c = rows[s:s + step], cols[s:s + step]
        out[s:s + step] = _cos(np.einsum("ij,ij->i", xs[r], ys[c]))
    return out


def _scores_of(xn: np.ndarray, yn: np.ndarray, idx: np.ndarray, images: np.ndarray,
               max_negatives: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    images = np.sort(images)
    texts = np.flatnonzero(np.isin(idx, images))
    local = np.searchsorted(images, idx[texts])  # caption -> row within images
    xs, ys = xn[images], yn[texts]
    pos = _cos(np.einsum("ij,ij->i", xs[local], ys))
    n_neg = images.size * texts.size - texts.size
    if max_negatives is None or n_neg <= max_negatives:
        neg = _negatives_all(xs, ys, local)
    else:
        rows, cols = _sample_unmatched(images.size, texts.size, local, max_negatives, rng)
        neg = _row_dots(xs, ys, rows, cols)
    return pos, neg


def pair_scores(
    image_emb: Any,
    text_emb: Any,
    *,
    image_index: Any = None,
    max_negatives: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""``(scores, labels)``: cosines of the matched pairs (label 1) and the unmatched ones (0).

    .. math::

        s_{ik} = \hat x_i \cdot \hat y_k, \qquad \text{label}_{ik} = [\,\mathrm{image}(k) = i\,]

    over L2-normalised rows (rounded to 12 decimals, so exact ties stay ties); positives first (caption order), then the N·K − K unmatched pairs
    (image-major), or ``max_negatives`` of them drawn uniformly without replacement with
    ``np.random.default_rng(seed)`` when there are more.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> s, lab = pair_scores(x, x)
    >>> s.tolist(), lab.tolist()
    ([1.0, 1.0, 0.0, 0.0], [1, 1, 0, 0])
    """
    where = "pair_scores"
    m = _check_count(max_negatives, "max_negatives", where)
    xn, yn, idx = _unit_pairs(image_emb, text_emb, image_index, where)
    pos, neg = _scores_of(xn, yn, idx, np.arange(xn.shape[0]), m, np.random.default_rng(seed))
    labels = np.concatenate([np.ones(pos.size, np.int64), np.zeros(neg.size, np.int64)])
    return np.concatenate([pos, neg]), labels


# -- AUC ---------------------------------------------------------------------------------------
def _tie_counts(sorted_pos: np.ndarray, neg: np.ndarray) -> int:
    """``Σ_neg 2·#{pos > s} + #{pos = s}`` (an integer: twice the Mann–Whitney U of the positives)."""
    hi = np.searchsorted(sorted_pos, neg, side="right")
    lo = np.searchsorted(sorted_pos, neg, side="left")
    return int(2 * (sorted_pos.size * neg.size - hi.sum(dtype=np.int64)) + (hi - lo).sum(dtype=np.int64))


def _check_scores(a: Any, name: str, where: str) -> np.ndarray:
    arr = to_numpy(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{where}: {name} must be numeric, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
        raise InputError(f"{where}: {name} has a non-finite value (first at flat position {bad})")
    return arr


def mann_whitney_auc(pos_scores: Any, neg_scores: Any) -> float:
    r"""AUC = P(positive scores above negative), ties counted half (Mann & Whitney 1947).

    .. math::

        \mathrm{AUC} = \frac{1}{n_+ n_-} \sum_{i,j} \big([s^+_i > s^-_j] + \tfrac12 [s^+_i = s^-_j]\big)

    computed in O((n₊ + n₋) log n₊) by sorting the positives (Hanley & McNeil, Radiology 143,
    1982, eq. 1), in exact integer arithmetic.

    Examples
    --------
    >>> mann_whitney_auc([0.9, 0.5], [0.5, 0.1])   # pairs: >, >, =, >  → 3.5 / 4
    0.875
    """
    pos = np.sort(_check_scores(pos_scores, "pos_scores", "mann_whitney_auc").ravel())
    neg = _check_scores(neg_scores, "neg_scores", "mann_whitney_auc").ravel()
    if pos.size == 0 or neg.size == 0:
        raise InputError(f"mann_whitney_auc: needs positives and negatives, got {pos.size} and {neg.size}")
    return _tie_counts(pos, neg) / (2.0 * pos.size * neg.size)


def pairs_auc(
    image_emb: Any,
    text_emb: Any,
    *,
    image_index: Any = None,
    max_pairs: int = 50_000_000,
    n_samples: int = 2_000_000,
    seed: int = 0,
) -> dict[str, Any]:
    r"""AUC of matched vs unmatched pairs over *all* N·K image–text pairs, ties counted half.

    Cosines are rounded to 12 decimals first, so pairs with equal cosines in exact arithmetic
    tie whatever the floating-point rounding. Exact (:func:`mann_whitney_auc` on every pair, the similarity matrix computed in blocks of
    4M entries, never held whole) when the N·K − K unmatched pairs number at most ``max_pairs``.
    Beyond that, every positive is kept and ``n_samples`` unmatched pairs are drawn uniformly
    without replacement (``seed``): with
    :math:`h(s) = \#\{s^+ > s\}/n_+ + \tfrac12\,\#\{s^+ = s\}/n_+`, the AUC is the mean of
    :math:`h` over all negatives, the estimate is its sample mean and ``auc_se`` =
    std(h)/√n_samples its standard error (0 when exact).

    Returns ``{"auc", "auc_se", "auc_exact", "n_positive", "n_negative", "n_negative_used"}``.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    >>> r = pairs_auc(x, x)    # every matched cosine is 1, every unmatched one below
    >>> r["auc"], r["auc_exact"], r["n_negative"]
    (1.0, True, 6)
    """
    where = "pairs_auc"
    max_pairs = int(_check_count(max_pairs, "max_pairs", where, allow_none=False) or 0)
    n_samples = int(_check_count(n_samples, "n_samples", where, allow_none=False) or 0)
    xn, yn, idx = _unit_pairs(image_emb, text_emb, image_index, where)
    n_i, n_t = xn.shape[0], yn.shape[0]
    pos = np.sort(_cos(np.einsum("ij,ij->i", xn[idx], yn)))
    n_neg = n_i * n_t - n_t
    out: dict[str, Any] = {"n_positive": int(n_t), "n_negative": int(n_neg)}
    if n_neg <= max_pairs:
        rows = max(1, _BLOCK // n_t)
        twice_u = 0
        for start in range(0, n_i, rows):
            s = xn[start:start + rows] @ yn.T
            keep = np.ones(s.shape, dtype=bool)
            k = np.flatnonzero((idx >= start) & (idx < start + rows))
            keep[idx[k] - start, k] = False
            twice_u += _tie_counts(pos, _cos(s[keep]))
        return {**out, "auc": twice_u / (2.0 * n_t * n_neg), "auc_se": 0.0, "auc_exact": True,
                "n_negative_used": int(n_neg)}
    r, c = _sample_unmatched(n_i, n_t, idx, n_samples, np.random.default_rng(seed))
    neg = _row_dots(xn, yn, r, c)
    h = (2 * (n_t - np.searchsorted(pos, neg, side="right"))
         + (np.searchsorted(pos, neg, side="right") - np.searchsorted(pos, neg, side="left"))) / (2.0 * n_t)
    se = float(h.std(ddof=1) / math.sqrt(h.size)) if h.size > 1 else float("nan")
    return {**out, "auc": float(h.mean()), "auc_se": se, "auc_exact": False, "n_negative_used": int(h.size)}


# -- prior, ECE, thresholds --------------------------------------------------------------------
def _check_prior(prior: Any, where: str) -> float:
    if isinstance(prior, bool) or not isinstance(prior, (int, float, np.floating, np.integer)) \
            or not (0.0 < float(prior) < 1.0):
        raise InputError(f"{where}: prior must be a number in (0, 1), got {prior!r}")
    return float(prior)


def _check_labels(labels: Any, n: int, where: str) -> np.ndarray:
    lab = to_numpy(labels)
    if lab.shape != (n,):
        raise InputError(f"{where}: labels must have shape ({n},) like the scores, got {lab.shape}")
    if lab.size and not np.isin(lab, (0, 1)).all():
        raise InputError(f"{where}: labels must be 0 (unmatched) or 1 (matched), got values {np.unique(lab)[:5].tolist()}")
    lab = lab.astype(np.int64)
    n1 = int(lab.sum())
    if n1 == 0 or n1 == n:
        raise InputError(f"{where}: needs both matched (1) and unmatched (0) pairs, got {n1} of {n} matched")
    return lab


def prior_weights(labels: Any, prior: float | None) -> np.ndarray:
    r"""Weights that give ``labels`` the base rate ``prior`` (mean weight 1; ``None``: all 1).

    .. math::

        w_i = n \cdot \begin{cases} \pi / n_+ & \text{label}_i = 1 \\ (1 - \pi)/n_- & \text{label}_i = 0 \end{cases}

    Examples
    --------
    >>> prior_weights([1, 0, 0, 0], 0.5).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    """
    lab = np.asarray(labels, dtype=np.int64)
    if prior is None:
        return np.ones(lab.size)
    n1 = int(lab.sum())
    n0 = lab.size - n1
    return np.where(lab == 1, prior * lab.size / max(n1, 1), (1.0 - prior) * lab.size / max(n0, 1))


def reliability_bins(proba: Any, labels: Any, *, prior: float | None = 0.5, n_bins: int = 15) -> dict[str, np.ndarray]:
    r"""Equal-mass bins of predicted probability: mean prediction, observed match rate, mass.

    Rows are weighted by :func:`prior_weights` (the stated base rate; ``prior=None``: the data's
    own) and sorted by prediction; each distinct prediction goes, whole, to bin
    ⌊n_bins · m / W⌋ where m is the weight below it plus half its own and W the total, so
    each bin holds about 1/n_bins of the weight (tied predictions are never split; isotonic
    steps can make a bin heavier). Empty bins are dropped.

    Returns ``{"confidence", "frequency", "mass"}`` (one entry per non-empty bin; mass sums to 1).
    """
    p = _check_scores(proba, "proba", "reliability_bins").ravel()
    lab = _check_labels(np.asarray(labels).ravel(), p.size, "reliability_bins")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InputError(f"reliability_bins: n_bins must be a positive integer, got {n_bins!r}")
    w = prior_weights(lab, prior)
    values, inverse = np.unique(p, return_inverse=True)
    wv = np.bincount(inverse, weights=w, minlength=values.size)
    wy = np.bincount(inverse, weights=w * lab, minlength=values.size)
    total = wv.sum()
    mid = np.cumsum(wv) - wv / 2.0
    b = np.minimum((n_bins * mid / total).astype(np.int64), n_bins - 1)
    mass = np.bincount(b, weights=wv, minlength=n_bins)
    conf = np.bincount(b, weights=wv * values, minlength=n_bins)
    freq = np.bincount(b, weights=wy, minlength=n_bins)
    keep = mass > 0
    return {"confidence": conf[keep] / mass[keep], "frequency": freq[keep] / mass[keep],
            "mass": mass[keep] / total}


def expected_calibration_error(proba: Any, labels: Any, *, prior: float | None = 0.5, n_bins: int = 15) -> float:
    r"""ECE over ``n_bins`` equal-mass bins, at base rate ``prior`` (``None``: the data's own).

    .. math::

        \mathrm{ECE} = \sum_b \frac{W_b}{W}\,\big|\,\bar y_b - \bar p_b\,\big|

    with :math:`W_b`, :math:`\bar y_b`, :math:`\bar p_b` the weight, weighted match rate and
    weighted mean prediction of bin b (:func:`reliability_bins`). Guo et al., "On Calibration of
    Modern Neural Networks", ICML 2017, §2 (15 bins); equal-mass bins as in Nixon et al.,
    "Measuring Calibration in Deep Learning", CVPR Workshops 2019 (adaptive ECE).

    Examples
    --------
    Bins {0.1, 0.1} (rate 0, |0 − 0.1|) and {0.9, 0.9} (rate 1/2, |0.5 − 0.9|), half the mass each:

    >>> expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0], prior=None, n_bins=2)
    0.25
    """
    bins = reliability_bins(proba, labels, prior=prior, n_bins=n_bins)
    return float(np.sum(bins["mass"] * np.abs(bins["frequency"] - bins["confidence"])))


def _rates(pos: np.ndarray, neg: np.ndarray, t: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """(precision at base rate ``prior``, recall) of "match when score ≥ t"."""
    tpr = (pos.size - np.searchsorted(pos, t, side="left")) / pos.size
    fpr = (neg.size - np.searchsorted(neg, t, side="left")) / neg.size
    den = prior * tpr + (1.0 - prior) * fpr
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(den > 0, prior * tpr / np.where(den > 0, den, 1.0), np.nan)
    return prec, tpr


def operating_thresholds(
    scores: Any,
    labels: Any,
    *,
    prior: float = 0.5,
    precisions: Sequence[float] = PRECISION_TARGETS,
    recalls: Sequence[float] = RECALL_TARGETS,
    test_scores: Any = None,
    test_labels: Any = None,
) -> list[dict[str, Any]]:
    r"""Score thresholds ("match when score ≥ t") that reach a precision or a recall.

    With TPR(t) and FPR(t) the shares of positives and negatives scoring ≥ t, precision at
    base rate π and recall are

    .. math::

        \mathrm{prec}_\pi(t) = \frac{\pi\,\mathrm{TPR}(t)}{\pi\,\mathrm{TPR}(t) + (1 - \pi)\,\mathrm{FPR}(t)},
        \qquad \mathrm{rec}(t) = \mathrm{TPR}(t).

    For a precision target the threshold is the lowest matched score t with prec_π(t) ≥ target
    (the most recall that meets it); for a recall target, the highest matched score with
    rec(t) ≥ target. Each row gives the other quantity it implies; with ``test_scores`` /
    ``test_labels`` also what the threshold reaches there (``precision_test``,
    ``recall_test``). A target no threshold reaches has ``threshold`` ``None``.

    Examples
    --------
    At t = 0.8, TPR = 2/3 and FPR = 0 (precision 1); at t = 0.7, TPR = 1, FPR = 1/2, so at
    π = 0.5 precision = 0.5 / (0.5 + 0.25) = 2/3:

    >>> rows = operating_thresholds([0.9, 0.8, 0.7, 0.75, 0.1], [1, 1, 1, 0, 0],
    ...                             precisions=[0.9], recalls=[0.9])
    >>> [(r["target"], r["value"], r["threshold"], round(r["precision"], 3), round(r["recall"], 3)) for r in rows]
    [('precision', 0.9, 0.8, 1.0, 0.667), ('recall', 0.9, 0.7, 0.667, 1.0)]
    """
    where = "operating_thresholds"
    prior = _check_prior(prior, where)
    s = _check_scores(scores, "scores", where).ravel()
    lab = _check_labels(np.asarray(labels).ravel(), s.size, where)
    pos, neg = np.sort(s[lab == 1]), np.sort(s[lab == 0])
    cand = np.unique(pos)
    prec, rec = _rates(pos, neg, cand, prior)
    test: tuple[np.ndarray, np.ndarray] | None = None
    if test_scores is not None:
        ts = _check_scores(test_scores, "test_scores", where).ravel()
        tl = _check_labels(np.asarray(test_labels).ravel(), ts.size, where)
        test = np.sort(ts[tl == 1]), np.sort(ts[tl == 0])
    rows: list[dict[str, Any]] = []
    for kind, targets in (("precision", precisions), ("recall", recalls)):
        for v in targets:
            if not (0.0 < float(v) <= 1.0):
                raise InputError(f"{where}: {kind} targets must be in (0, 1], got {v!r}")
            if kind == "precision":
                ok = np.flatnonzero(np.nan_to_num(prec, nan=-1.0) >= v)
                j = int(ok[0]) if ok.size else None
            else:
                ok = np.flatnonzero(rec >= v)
                j = int(ok[-1]) if ok.size else None
            row: dict[str, Any] = {"target": kind, "value": float(v)}
            if j is None:
                row.update(threshold=None, precision=None, recall=None)
            else:
                row.update(threshold=float(cand[j]), precision=float(prec[j]), recall=float(rec[j]))
            if test is not None:
                if j is None:
                    row.update(precision_test=None, recall_test=None)
                else:
                    tp, tr = _rates(test[0], test[1], np.array([cand[j]]), prior)
                    row.update(precision_test=None if np.isnan(tp[0]) else float(tp[0]), recall_test=float(tr[0]))
            rows.append(row)
    return rows


# -- the calibrator ----------------------------------------------------------------------------
def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _platt_fit(z: np.ndarray, lab: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted logistic fit of ``lab`` on ``z`` (Newton–Raphson, Platt's smoothed targets)."""
    n1, n0 = int(lab.sum()), int(lab.size - lab.sum())
    t = np.where(lab == 1, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))  # Platt 1999, §2.2
    mu = float(np.average(z, weights=w))
    sd = float(np.sqrt(np.average((z - mu) ** 2, weights=w)))
    sd = sd if sd > 0 else 1.0
    u = (z - mu) / sd  # standardised: a well-conditioned 2×2 Newton step
    a, c = 0.0, 0.0
    wsum = w.sum()

    def loss(a: float, c: float) -> float:
        f = a * u + c
        return float(np.sum(w * (np.logaddexp(0.0, f) - t * f)) / wsum)

    cur = loss(a, c)
    for _ in range(100):
        p = _sigmoid(a * u + c)
        g = np.array([np.sum(w * (p - t) * u), np.sum(w * (p - t))]) / wsum
        h = p * (1.0 - p) * w
        hess = np.array([[np.sum(h * u * u), np.sum(h * u)], [np.sum(h * u), np.sum(h)]]) / wsum
        hess += 1e-12 * np.eye(2)
        step = np.linalg.solve(hess, g)
        lr = 1.0
        while lr > 1e-10:
            na, nc = a - lr * step[0], c - lr * step[1]
            new = loss(na, nc)
            if new <= cur:
                break
            lr /= 2.0
        else:
            break
        done = abs(cur - new) < 1e-15 and float(np.max(np.abs(lr * step))) < 1e-12
        a, c, cur = na, nc, new
        if done:
            break
    return a / sd, c - a * mu / sd


class Calibrator:
    r"""A monotone map from image–text cosine to P(match) at base rate ``prior``.

    ``method="isotonic"``: the weighted isotonic regression of the match labels on the score
    (pool-adjacent-violators; Zadrozny & Elkan, KDD 2002, §3), a non-decreasing step function
    stored as its breakpoints (``x_thresholds_``, ``y_thresholds_``) and interpolated linearly
    between them, clipped beyond (scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``).
    ``method="platt"``: :math:`P = \sigma(a\,z + c)`, a weighted logistic fit on the score
    (Platt, "Probabilistic Outputs for Support Vector Machines", 1999, §2.1–2.2, with his
    smoothed targets (n₊+1)/(n₊+2) and 1/(n₋+2)), ``coef_`` = a, ``intercept_`` = c.

    The score z is the cosine, or the model's logit :math:`z = s\cos + b` when ``logit_scale``
    (s > 0) and ``logit_bias`` (b, default 0) are given (SigLIP). Both maps are invariant to an
    increasing affine change of the score, so the probabilities as a function of the cosine are
    the same either way; with the logit, ``coef_``/``intercept_`` are in logit units and
    a = 1, c = 0 would be the model's own sigmoid. Positives are weighted π/n₊ and negatives
    (1 − π)/n₋ (:func:`prior_weights`), so the probabilities are for base rate π (module
    docstring).

    Parameters
    ----------
    method : {"isotonic", "platt"}
    prior : float in (0, 1), default 0.5
    logit_scale, logit_bias : float or None
        Score the logit s·cos + b instead of the cosine.
    max_negatives : int or None, default 1_000_000
        :meth:`fit` on embeddings uses at most this many unmatched pairs (seeded sample).
    seed : int, default 0
        Seed of that sample.

    Raises
    ------
    ConfigError
        Unknown ``method``, ``logit_bias`` without ``logit_scale``, ``logit_scale`` ≤ 0 (at fit).
    InputError
        A ``prior`` outside (0, 1), non-finite scores, labels not 0/1 or of one class only.
    NotFittedError
        :meth:`predict_proba` before a fit.

    References
    ----------
    J. Platt, "Probabilistic Outputs for Support Vector Machines and Comparisons to Regularized
    Likelihood Methods", Advances in Large Margin Classifiers, 1999, §2.
    B. Zadrozny, C. Elkan, "Transforming Classifier Scores into Accurate Multiclass Probability
    Estimates", KDD 2002, §3. M. Saerens, P. Latinne, C. Decaestecker, "Adjusting the Outputs of
    a Classifier to New a Priori Probabilities", Neural Computation 14, 2002 (the prior shift).

    Examples
    --------
    >>> cal = Calibrator(method="isotonic").fit_scores([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1])
    >>> cal.predict_proba([0.15, 0.35]).tolist()
    [0.0, 1.0]
    >>> Calibrator(method="platt", prior=0.2).get_params()["prior"]
    0.2
    """

    #: the name in messages and saved files
    name: ClassVar[str] = "calibrate"
    paper: ClassVar[str] = "Platt 1999; Zadrozny & Elkan, KDD 2002; Guo et al., ICML 2017"

    def __init__(
        self,
        method: str = "isotonic",
        prior: float = 0.5,
        logit_scale: float | None = None,
        logit_bias: float | None = None,
        max_negatives: int | None = 1_000_000,
        seed: int = 0,
    ) -> None:
        self.method = method
        self.prior = prior
        self.logit_scale = logit_scale
        self.logit_bias = logit_bias
        self.max_negatives = max_negatives
        self.seed = seed

    # -- parameters (the mitigations' contract) ---------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` keyword arguments and their current values."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Calibrator:
        """Change parameters (unknown names raise :class:`~gaplab.ConfigError`); returns ``self``."""
        check_options(params, self._param_names(), "Calibrator")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"Calibrator({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def _state_names(self) -> list[str]:
        return sorted(k for k in vars(self) if k.endswith("_") and not k.startswith("_"))

    def is_fitted(self) -> bool:
        """Whether a fit has completed (``n_positive_``, set last, exists)."""
        return "n_positive_" in vars(self)

    def _check_params(self, where: str) -> tuple[float, float] | None:
        if self.method not in CALIBRATION_METHODS:
            raise ConfigError(f"{where}: method must be one of {', '.join(CALIBRATION_METHODS)}, got {self.method!r}")
        _check_prior(self.prior, where)
        _check_count(self.max_negatives, "max_negatives", where)
        if self.logit_scale is None:
            if self.logit_bias is not None:
                raise ConfigError(f"{where}: logit_bias needs logit_scale (the logit is logit_scale·cos + logit_bias)")
            return None
        s, b = self.logit_scale, 0.0 if self.logit_bias is None else self.logit_bias
        for name, v in (("logit_scale", s), ("logit_bias", b)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ConfigError(f"{where}: {name} must be a finite number, got {v!r}")
        if s <= 0:
            raise ConfigError(f"{where}: logit_scale must be > 0 (a larger cosine must mean a larger logit), got {s!r}")
        return float(s), float(b)

    def _to_score(self, cosine: Any, where: str) -> np.ndarray:
        """The score the map is fitted on: the cosine, or ``logit_scale · cos + logit_bias``."""
        z = _check_scores(cosine, "cosine", where)
        sb = self._check_params(where)
        return z if sb is None else sb[0] * z + sb[1]

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, image_emb: Any, text_emb: Any = None, *, image_index: Any = None) -> Calibrator:
        """Fit on the pairs of image embeddings (N, d) and text embeddings (N or K, d).

        Positives: the matched pairs (row i of each, or caption k and image ``image_index[k]``);
        negatives: every unmatched pair, or ``max_negatives`` of them (seeded), as
        :func:`pair_scores`. Returns ``self``.
        """
        where = f"{self.name}.fit"
        self._check_params(where)
        if text_emb is None:
            raise InputError(f"{where}: needs both image and text embeddings, got only image_emb; "
                             "call fit(image_emb, text_emb), or fit_scores(scores, labels)")
        xn, yn, idx = _unit_pairs(image_emb, text_emb, image_index, where)
        pos, neg = _scores_of(xn, yn, idx, np.arange(xn.shape[0]), self.max_negatives,
                              np.random.default_rng(self.seed))
        return self._fit(np.concatenate([pos, neg]),
                         np.concatenate([np.ones(pos.size, np.int64), np.zeros(neg.size, np.int64)]), where)

    def fit_scores(self, cosine: Any, labels: Any) -> Calibrator:
        """Fit on cosines and their match labels (1 matched, 0 unmatched). Returns ``self``."""
        where = f"{self.name}.fit_scores"
        self._check_params(where)
        s = _check_scores(cosine, "cosine", where)
        if s.ndim != 1:
            raise InputError(f"{where}: cosine must be 1-D (one score per pair), got shape {s.shape}")
        return self._fit(s, _check_labels(labels, s.size, where), where)

    def _fit(self, cos: np.ndarray, lab: np.ndarray, where: str) -> Calibrator:
        for k in self._state_names():  # refitting starts from scratch
            delattr(self, k)
        z = self._to_score(cos, where)
        w = prior_weights(lab, float(self.prior))
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(z, lab.astype(np.float64), sample_weight=w)
            self.x_thresholds_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_thresholds_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            a, c = _platt_fit(z, lab, w)
            self.coef_, self.intercept_ = float(a), float(c)
        self.base_rate_ = float(lab.mean())
        self.n_negative_ = int(lab.size - lab.sum())
        self.n_positive_ = int(lab.sum())
        return self

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, cosine: Any) -> np.ndarray:
        """P(match) at base rate ``prior`` for each cosine (any shape; same shape back).

        Unlike scikit-learn's ``predict_proba`` (one column per class) this returns the
        match probability only: the input is a score, not a feature matrix.
        """
        where = f"{self.name}.predict_proba"
        if not self.is_fitted():
            raise NotFittedError(f"{where}: this Calibrator is not fitted yet; "
                                 "call fit(image_emb, text_emb) or fit_scores(cosine, labels) first")
        z = self._to_score(cosine, where)
        if self.method == "isotonic":
            return np.interp(z, self.x_thresholds_, self.y_thresholds_)
        return _sigmoid(self.coef_ * z + self.intercept_)

    def transform(self, cosine: Any) -> np.ndarray:
        """Same as :meth:`predict_proba` (the transform-like spelling)."""
        return self.predict_proba(cosine)

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Parameters and fitted state as plain JSON types (floats round-trip exactly)."""
        if not self.is_fitted():
            raise NotFittedError(f"{self.name}.save: this Calibrator is not fitted yet")
        state = {}
        for k in self._state_names():
            v = getattr(self, k)
            state[k] = v.tolist() if isinstance(v, np.ndarray) else v
        return {"format": _FORMAT, "params": self.get_params(), "state": state}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write parameters and fitted state to ``.json`` (isotonic: its breakpoints; no pickle)."""
        p = Path(path)
        if p.suffix.lower() != ".json":
            raise InputError(f"{self.name}.save: {p} must end in .json")
        text = json.dumps(self.to_dict()) + "\n"
        return atomic_write(p, lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibrator:
        """Read a calibrator written by :meth:`save` (:func:`load_calibrator`)."""
        return load_calibrator(path)


_STATE_KEYS = {"isotonic": ("x_thresholds_", "y_thresholds_"), "platt": ("coef_", "intercept_")}


def load_calibrator(path: str | os.PathLike[str]) -> Calibrator:
    """A fitted :class:`Calibrator` from a ``.json`` file written by :meth:`Calibrator.save`.

    Examples
    --------
    >>> import tempfile
    >>> cal = Calibrator(method="platt").fit_scores([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_calibrator(cal.save(Path(d, "cal.json")))
    >>> bool(back.predict_proba([0.25]) == cal.predict_proba([0.25]))
    True
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        d = json.loads(p.read_text())
    except Exception as e:
        raise InputError(f"{p}: cannot read calibrator ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict) or d.get("format") != _FORMAT:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise InputError(f"{p}: not a gaplab calibrator file (format {got!r}, expected {_FORMAT!r})")
    try:
        cal = Calibrator(**d["params"])
        cal._check_params(f"{p}")
        state = d["state"]
        for k in _STATE_KEYS[cal.method]:
            v = state[k]
            setattr(cal, k, np.asarray(v, dtype=np.float64) if isinstance(v, list) else float(v))
        if cal.method == "isotonic":
            xt, yt = cal.x_thresholds_, cal.y_thresholds_
            if xt.ndim != 1 or xt.shape != yt.shape or xt.size == 0 or np.any(np.diff(xt) < 0) \
                    or not (np.isfinite(xt).all() and np.isfinite(yt).all()):
                raise ValueError("isotonic breakpoints must be two finite 1-D arrays of one length, x sorted")
        for k in ("base_rate_", "n_negative_", "n_positive_"):
            setattr(cal, k, state[k])
    except (KeyError, TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise InputError(f"{p}: bad calibrator file ({type(e).__name__}: {e})") from None
    return cal



# -- the protocol ------------------------------------------------------------------------------
@dataclass
class CalibrationResult:
    """What :func:`calibrate_pairs` returns: the summary, the fitted maps, the reliability bins."""

    summary: dict[str, Any]
    calibrators: dict[str, Calibrator]
    reliability: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


#: summary keys and their meaning (the CLI's table)
SUMMARY_KEYS: dict[str, str] = {
    "auc": "matched vs unmatched, all N·K pairs, ties half (Mann–Whitney)",
    "auc_se": "standard error of auc (0 = exact)",
    "ece_test": "held-out ECE of the chosen map, 15 equal-mass bins, at the prior",
    "model_ece_test": "held-out ECE of the model's own sigmoid(s·cos+b), at the prior",
    "model_ece_test_natural": "the same at the data's own base rate (≈ 1/N)",
}


def calibrate_pairs(
    image_emb: Any,
    text_emb: Any,
    *,
    image_index: Any = None,
    method: str = "isotonic",
    prior: float = 0.5,
    logit_scale: float | None = None,
    logit_bias: float | None = None,
    max_negatives: int | None = 1_000_000,
    test_fraction: float = 0.5,
    seed: int = 0,
    n_bins: int = 15,
    max_auc_pairs: int = 50_000_000,
) -> CalibrationResult:
    """Fit score → P(match) on half the images and report how it holds on the other half.

    1. ``auc``: :func:`pairs_auc` over all N·K pairs (no fitting involved).
    2. Split *by image* (:func:`~gaplab.mitigate.split_pairs`, ``test_fraction``, ``seed``): an
       image and its captions fall on one side; pairs across the split are not used.
    3. On the fit half, a :class:`Calibrator` per method (isotonic and Platt) on the matched
       pairs and the unmatched pairs within the half (at most ``max_negatives``, seeded).
    4. On the test half: ``ece_test`` per method (:func:`expected_calibration_error`, ``n_bins``
       equal-mass bins at ``prior``), the reliability bins, and with ``logit_scale`` the ECE
       of the model's own ``sigmoid(s·cos + b)`` before any refit, at the prior
       (``model_ece_test``) and at the test half's own base rate (``model_ece_test_natural``).
    5. ``thresholds``: cosines chosen on the fit half for precision 0.9 / 0.95 / 0.99 (at the
       prior) and recall 0.9 (:func:`operating_thresholds`), each with the recall/precision
       it implies there, what it reaches on the test half, and ``probability``, the chosen
       map's P(match) at that cosine.

    Every number is a function of the cosines, so an orthogonal rotation of both modalities
    changes none of them; the same seed gives the same numbers.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(60, 8))
    >>> r = calibrate_pairs(z + 0.3 * rng.normal(size=z.shape), z + 0.3 * rng.normal(size=z.shape))
    >>> r.summary["auc"] > 0.95, sorted(r.calibrators)
    (True, ['isotonic', 'platt'])
    """
    where = "calibrate"
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"{where}: method must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    prior = _check_prior(prior, where)
    proto = Calibrator(method=method, prior=prior, logit_scale=logit_scale, logit_bias=logit_bias,
                       max_negatives=max_negatives, seed=seed)
    sb = proto._check_params(where)
    xn, yn, idx = _unit_pairs(image_emb, text_emb, image_index, where)
    auc = pairs_auc(xn, yn, image_index=idx, max_pairs=max_auc_pairs, seed=seed)
    split = split_pairs(xn.shape[0], image_index=idx, test_fraction=test_fraction, seed=seed)
    for side, imgs in (("fit", split.train_images), ("test", split.test_images)):
        if np.unique(idx[np.isin(idx, imgs)]).size < 2:
            raise InputError(f"{where}: the {side} half has captions of fewer than 2 images; "
                             f"need at least 4 images with captions in all, got {xn.shape[0]}")
    rng = np.random.default_rng(seed)
    fpos, fneg = _scores_of(xn, yn, idx, split.train_images, max_negatives, rng)
    tpos, tneg = _scores_of(xn, yn, idx, split.test_images, max_negatives, rng)
    fs, fl = np.concatenate([fpos, fneg]), np.concatenate([np.ones(fpos.size, np.int64), np.zeros(fneg.size, np.int64)])
    ts, tl = np.concatenate([tpos, tneg]), np.concatenate([np.ones(tpos.size, np.int64), np.zeros(tneg.size, np.int64)])

    calibrators: dict[str, Calibrator] = {}
    methods: dict[str, dict[str, Any]] = {}
    reliability: dict[str, dict[str, np.ndarray]] = {}
    for m in CALIBRATION_METHODS:
        cal = Calibrator(**{**proto.get_params(), "method": m}).fit_scores(fs, fl)
        p = cal.predict_proba(ts)
        calibrators[m] = cal
        reliability[m] = reliability_bins(p, tl, prior=prior, n_bins=n_bins)
        methods[m] = {"ece_test": expected_calibration_error(p, tl, prior=prior, n_bins=n_bins)}
        if m == "platt":
            methods[m].update(coef=cal.coef_, intercept=cal.intercept_)
        else:
            methods[m].update(n_breakpoints=int(cal.x_thresholds_.size))
    summary: dict[str, Any] = {
        "n_images": int(xn.shape[0]), "n_texts": int(yn.shape[0]), "prior": prior, "method": method,
        "score": "cosine" if sb is None else "logit", "logit_scale": None if sb is None else sb[0],
        "logit_bias": None if sb is None else sb[1], "seed": seed,
        **{k: auc[k] for k in ("auc", "auc_se", "auc_exact", "n_positive", "n_negative", "n_negative_used")},
        "ece_test": methods[method]["ece_test"],
    }
    if sb is not None:
        own = _sigmoid(sb[0] * ts + sb[1])
        summary["model_ece_test"] = expected_calibration_error(own, tl, prior=prior, n_bins=n_bins)
        summary["model_ece_test_natural"] = expected_calibration_error(own, tl, prior=None, n_bins=n_bins)
        reliability["model"] = reliability_bins(own, tl, prior=prior, n_bins=n_bins)
    summary["methods"] = methods
    summary["split"] = {**split.to_dict(), "n_fit_positive": int(fpos.size), "n_fit_negative": int(fneg.size),
                        "n_test_positive": int(tpos.size), "n_test_negative": int(tneg.size)}
    rows = operating_thresholds(fs, fl, prior=prior, test_scores=ts, test_labels=tl)
    for r in rows:
        r["cosine"] = r.pop("threshold")
        if sb is not None:
            r["logit"] = None if r["cosine"] is None else sb[0] * r["cosine"] + sb[1]
        r["probability"] = None if r["cosine"] is None else float(calibrators[method].predict_proba(r["cosine"]))
    summary["thresholds"] = rows
    return CalibrationResult(summary=summary, calibrators=calibrators, reliability=reliability)


def reliability_figure(reliability: dict[str, dict[str, np.ndarray]], *, title: str = "") -> Any:
    """A reliability diagram (headless matplotlib Figure): observed match rate vs prediction per bin.

    ``reliability`` maps a label to :func:`reliability_bins` output (e.g.
    ``CalibrationResult.reliability``); one marker per bin, the diagonal is perfect calibration.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"isotonic": "#1b9e77", "platt": "#d95f02", "model": "#7570b3"}
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--", label="perfect")
    for label, b in reliability.items():
        c = colours.get(label)
        name = "model sigmoid(s·cos+b)" if label == "model" else label
        ax.plot(b["confidence"], b["frequency"], marker="o", ms=3, lw=1.0, color=c, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(match)")
    ax.set_ylabel("observed match rate (held-out, at the prior)")
    ax.set_title(title or "Reliability, equal-mass bins")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig
