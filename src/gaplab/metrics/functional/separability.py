"""Linear separability of the two modalities (Shi et al. 2023, §4; Fahim et al., 003)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._split import seeded_split
from ..._validation import check_pair, normalize_rows

__all__ = ["linear_separability", "modality_split", "check_C"]


def modality_split(
    x: Any,
    y: Any,
    *,
    image_index: Any,
    normalize: bool,
    train_fraction: float,
    seed: int,
    max_pairs: int | None,
    where: str,
) -> Split:
    """Train and test sets ``(features, is_text)`` for telling the modalities apart.

    Split by image (an image and all its captions on one side), at most ``max_pairs``
    images (seeded subsample), rows normalised unless ``normalize=False``.
    """
    xa, ya, idx = check_pair(x, y, where=where, image_index=image_index)
    if normalize:
        xa, ya = normalize_rows(xa), normalize_rows(ya)
    return _modality_split(xa, ya, idx, train_fraction=train_fraction, seed=seed, max_pairs=max_pairs, where=where)


Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _modality_split(
    xa: np.ndarray,
    ya: np.ndarray,
    idx: np.ndarray | None,
    *,
    train_fraction: float,
    seed: int,
    max_pairs: int | None,
    where: str,
) -> Split:
    """Kernel of :func:`modality_split` on validated rows (normalised if wanted)."""
    if idx is None:
        idx = np.arange(ya.shape[0])
    images = np.arange(xa.shape[0])
    if max_pairs is not None and images.size > max_pairs:
        images = np.sort(np.random.default_rng(seed).choice(images, size=max_pairs, replace=False))
    tr, te = seeded_split(images.size, train_fraction, seed, where=where, name="train_fraction")

    def rows(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        txt = np.flatnonzero(np.isin(idx, img))
        feats = np.vstack([xa[img], ya[txt]]).astype(np.float64)
        return feats, np.r_[np.zeros(img.size), np.ones(txt.size)]

    train, test = rows(images[tr]), rows(images[te])
    if np.unique(train[1]).size < 2 or np.unique(test[1]).size < 2:
        raise InputError(f"{where}: the split left one modality empty; use more pairs")
    return train, test


def linear_separability(
    x: Any,
    y: Any,
    *,
    train_fraction: float = 0.8,
    seed: int = 0,
    image_index: Any = None,
    normalize: bool = True,
    max_pairs: int | None = 50_000,
    C: float = 1.0,
) -> float:
    r"""Held-out accuracy of a logistic regression telling image rows from text rows.

    .. math:: \mathrm{acc} = \frac{1}{|T|}\sum_{z\in T}\mathbb 1[\hat m(z) = m(z)],
              \quad \hat m = \text{logistic regression fit on the train split}

    Shi et al., "Towards Understanding the Modality Gap in CLIP", 2023, §4 (100 % on COCO
    from 0.1 % of the pairs) and Fahim et al. (003). 0.5 means inseparable, 1.0 fully
    separable. The split is by *image*: an image and all its captions land on the same
    side, so no pair straddles train and test. ``max_pairs`` caps the images used (seeded
    subsample) to bound the cost; ``None`` uses all.

    Examples
    --------
    >>> x = [[1.0, 0.1 * i] for i in range(10)]
    >>> y = [[-1.0, 0.1 * i] for i in range(10)]
    >>> linear_separability(x, y, train_fraction=0.5)
    1.0
    """
    check_C(C, "linear_separability")
    return _linear_separability(modality_split(
        x, y, image_index=image_index, normalize=normalize, train_fraction=train_fraction,
        seed=seed, max_pairs=max_pairs, where="linear_separability",
    ), C)


def check_C(C: Any, where: str) -> float:
    """The inverse regularisation strength ``C`` of a logistic regression: positive and finite."""
    if isinstance(C, bool) or not (isinstance(C, (int, float, np.number)) and np.isfinite(C) and C > 0):
        raise InputError(f"{where}: C must be a positive finite number, got {C!r}")
    return float(C)


def _linear_separability(split: Split, C: float = 1.0) -> float:
    """Kernel of :func:`linear_separability`: fit on the train half, accuracy on the test half."""
    from sklearn.linear_model import LogisticRegression

    (f_tr, l_tr), (f_te, l_te) = split
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(f_tr, l_tr)
    return float(clf.score(f_te, l_te))
