"""Downstream tasks scored before and after a mitigation: probes, clustering, mixed retrieval."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_embeddings, check_pair, normalize_rows, to_numpy

__all__ = ["mixed_modality_retrieval", "kmeans_agreement", "linear_probe"]


def mixed_modality_retrieval(
    x: Any, y: Any, *, image_index: Any = None, block_rows: int | None = None
) -> dict[str, float]:
    r"""Search a corpus holding both modalities: is the top hit of the query's own modality?

    Every image and every text is a query against the corpus :math:`Z = [\hat X; \hat Y]`
    without the query itself (cosine similarity).

    .. math::

        \mathrm{same\_modality} = \frac{1}{N+K}\sum_{q} \mathbb 1[m(\operatorname{top}(q)) = m(q)],
        \qquad
        \mathrm{pair\_r1} = \frac{1}{N+K}\sum_q \mathbb 1[\operatorname{top}(q) \text{ is } q\text{'s pair}]

    With a modality gap, queries find their own modality first (same_modality → 1) even
    though their pair is in the corpus; a gap-free space gives same_modality near the share
    of the own modality in the corpus (≈ 0.5 for one caption per image) and a higher pair_r1.
    An image's pairs are its captions; a caption's pair is its image (``image_index``).
    ``same_modality_top1_image_queries`` / ``_text_queries`` split the first score by the
    query's modality: with templated captions many texts are exact duplicates, which keeps
    the text-query share high whatever the gap, so read the image-query share there.
    Li, Zhang et al., arXiv:2507.19054, 2025 (intra-modal ranking bias in mixed modality
    search). O((N+K)²·d) time; memory O(block_rows·(N+K)), blocks of about 64 MiB by default.

    Examples
    --------
    >>> r = mixed_modality_retrieval([[1.0, 0.0], [0.9, 0.1]], [[0.0, 1.0], [0.1, 0.9]])
    >>> r["same_modality_top1"], r["same_modality_top1_image_queries"], r["pair_r1"]
    (1.0, 1.0, 0.0)
    """
    xa, ya, idx = check_pair(x, y, where="mixed_modality_retrieval", image_index=image_index)
    n, k = xa.shape[0], ya.shape[0]
    if idx is None:
        idx = np.arange(k)
    z = np.vstack([normalize_rows(xa.astype(np.float64)), normalize_rows(ya.astype(np.float64))])
    modality = np.r_[np.zeros(n, dtype=np.int8), np.ones(k, dtype=np.int8)]
    # partner id: an image i is "owner" i; a caption k is owned by image idx[k]
    owner = np.r_[np.arange(n), idx]
    if block_rows is None:  # about 64 MiB of float64 scores per block
        block_rows = max(1, min(n + k, (1 << 23) // (n + k)))
    same = np.zeros(n + k, dtype=bool)
    pair = np.zeros(n + k, dtype=bool)
    for lo in range(0, n + k, block_rows):
        hi = min(lo + block_rows, n + k)
        s = z[lo:hi] @ z.T
        s[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        top = np.argmax(s, axis=1)
        q = np.arange(lo, hi)
        same[lo:hi] = modality[top] == modality[q]
        pair[lo:hi] = (modality[top] != modality[q]) & (owner[top] == owner[q])
    return {
        "same_modality_top1": float(same.mean()),
        "same_modality_top1_image_queries": float(same[:n].mean()),
        "same_modality_top1_text_queries": float(same[n:].mean()),
        "pair_r1": float(pair.mean()),
    }


def _labels(labels: Any, n: int, where: str, name: str = "labels") -> np.ndarray:
    lab = to_numpy(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise InputError(f"{where}: {name} must be 1-D with {n} entries, got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(np.isfinite(lab)) and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"{where}: {name} must hold integer class ids, got dtype {lab.dtype}")
    return lab.astype(np.int64, copy=False)


def kmeans_agreement(
    x: Any,
    y: Any,
    labels_x: Any,
    labels_y: Any,
    *,
    n_clusters: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    r"""k-means on the joint set of both modalities, scored against class labels and modality.

    Images and texts are pooled (L2-normalised), clustered with k-means
    (k = number of classes unless given; ``n_init=10``, ``random_state=seed``) and the
    clusters compared with the class labels (adjusted Rand index, V-measure: higher is
    better) and with the modality of each row (``modality_ari``: how far the clusters split
    by modality instead of by class; ≤ 0 = not at all, 1 = clusters are the modalities).

    .. math:: \mathrm{ARI}(c, \ell) = \frac{\mathrm{RI} - \mathbb E[\mathrm{RI}]}{\max\mathrm{RI} - \mathbb E[\mathrm{RI}]}

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0]]
    >>> r = kmeans_agreement(x, x, [0, 1], [0, 1])
    >>> r["ari"], r["modality_ari"] <= 0  # clusters follow class, not modality
    (1.0, True)
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, v_measure_score
    from threadpoolctl import threadpool_limits

    xa = check_embeddings(x, name="x", where="kmeans_agreement")
    ya = check_embeddings(y, name="y", where="kmeans_agreement")
    if xa.shape[1] != ya.shape[1]:
        raise InputError(f"kmeans_agreement: x {xa.shape} and y {ya.shape} differ in d")
    lx = _labels(labels_x, xa.shape[0], "kmeans_agreement", "labels_x")
    ly = _labels(labels_y, ya.shape[0], "kmeans_agreement", "labels_y")
    z = np.vstack([normalize_rows(xa.astype(np.float64)), normalize_rows(ya.astype(np.float64))])
    lab = np.r_[lx, ly]
    k = int(np.unique(lab).size) if n_clusters is None else int(n_clusters)
    if not 2 <= k <= z.shape[0]:
        raise InputError(f"kmeans_agreement: need 2 <= n_clusters <= {z.shape[0]}, got {k}")
    with threadpool_limits(1):  # OpenMP threads on small inputs only contend (25x slower on busy CPUs)
        clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    modality = np.r_[np.zeros(xa.shape[0]), np.ones(ya.shape[0])]
    return {
        "ari": float(adjusted_rand_score(lab, clusters)),
        "v_measure": float(v_measure_score(lab, clusters)),
        "modality_ari": float(adjusted_rand_score(modality, clusters)),
    }


def linear_probe(
    train_x: Any, train_labels: Any, test_x: Any, test_labels: Any, *, C: float = 1.0
) -> float:
    r"""Test accuracy of a logistic regression (scikit-learn) fit on ``train_x`` only.

    Train on one set, score on another: pass image rows for both for the usual probe, or
    *text* rows to train and *image* rows to test for cross-modal transfer (a classifier
    learnt on text embeddings applied to images, where the gap matters most).

    .. math:: \mathrm{acc} = \frac1{|T|}\sum_{i\in T}\mathbb 1[\hat f(x_i) = \ell_i],
              \quad \hat f = \text{logistic regression fit on the train rows}

    Examples
    --------
    >>> linear_probe([[1.0, 0.0], [0.0, 1.0]], [0, 1], [[0.9, 0.1]], [0])
    1.0
    """
    from sklearn.linear_model import LogisticRegression

    a = normalize_rows(check_embeddings(train_x, name="train_x", where="linear_probe", min_rows=2))
    b = normalize_rows(check_embeddings(test_x, name="test_x", where="linear_probe", min_rows=1))
    if a.shape[1] != b.shape[1]:
        raise InputError(f"linear_probe: train_x {a.shape} and test_x {b.shape} differ in d")
    la = _labels(train_labels, a.shape[0], "linear_probe", "train_labels")
    lb = _labels(test_labels, b.shape[0], "linear_probe", "test_labels")
    if np.unique(la).size < 2:
        raise InputError("linear_probe: the training rows hold a single class; need at least 2")
    clf = LogisticRegression(C=C, max_iter=2000).fit(a.astype(np.float64), la)
    return float(clf.score(b.astype(np.float64), lb))
