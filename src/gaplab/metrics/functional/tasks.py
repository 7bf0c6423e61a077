"""Downstream tasks that show a modality gap: mixed-modality search, joint k-means, linear probes.

Each returns the keys it is reported under (``gaplab mitigate --eval`` rows): a quantity has
one name from the function to the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows, to_numpy
from ._blocks import beats, check_block_rows, similarity_blocks
from .separability import check_C

__all__ = ["mixed_modality_retrieval", "mixed_retrieval_from_scores", "kmeans_agreement", "linear_probe", "check_labels"]


def check_labels(labels: Any, n: int, where: str, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D int64 array of ``n`` class ids (integral floats accepted), or :class:`InputError`."""
    lab = to_numpy(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise InputError(f"{where}: {name} must be 1-D with {n} entries, got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        if np.issubdtype(lab.dtype, np.floating) and np.all(np.isfinite(lab)) and np.all(np.mod(lab, 1) == 0):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"{where}: {name} must hold integer class ids, got dtype {lab.dtype}")
    return lab.astype(np.int64, copy=False)


# -- mixed-modality retrieval ------------------------------------------------------------------
def mixed_modality_retrieval(
    x: Any, y: Any, *, image_index: Any = None, block_rows: int | None = None, search_k: int | None = None
) -> dict[str, float]:
    r"""Retrieval in a corpus of both modalities: how often the top hit shares the query's modality.

    Every image and every text is a query against the corpus :math:`Z = [\hat X; \hat Y]`
    without the query itself (cosine similarity).

    .. math::

        \mathrm{same\_modality} = \frac{1}{N+K}\sum_{q} \mathbb 1[m(\operatorname{top}(q)) = m(q)],
        \qquad
        \mathrm{pair\_r1} = \frac{1}{N+K}\sum_q \mathbb 1[\operatorname{top}(q) \text{ is } q\text{'s pair}]

    With a modality gap, queries find their own modality first (same_modality → 1) even
    though their pair is in the corpus; a gap-free space gives same_modality near the share
    of the own modality in the corpus (≈ 0.5 for one caption per image) and a higher pair_r1.
    An image's pairs are its captions; a caption's pair is its image (``image_index``), not
    the other captions of that image.

    With ``search_k`` = K it also scores *mixed-modality search* (MixBench's setting): each
    text query (caption c of image i) searches the test images and the captions of the
    *other* images (its own image's captions, itself included, leave the corpus). Relevance
    is binary: the query's own image is the one relevant item, so with :math:`r_c` the
    number of corpus rows that beat it (ties to the query, as above)

    .. math::

        \mathrm{nDCG@K} = \frac1K_{\!q}\sum_c \frac{\mathbb 1[r_c < K]}{\log_2(r_c + 2)},
        \qquad
        \mathrm{own\_share@K} = \frac1K_{\!q}\sum_c \frac{\#\{\text{texts in the top } K\}}{K}

    (:math:`K_q` = number of text queries). A gap pushes the query's own modality, the other
    captions, to the top: own_share@K → 1 and nDCG@K falls; rows tied with the K-th best
    enter the top K images first.

    Ties: similarities are float64 and two within ``TIE_TOL``·max(1, |s|) (1e-9) are a tie,
    decided in the query's favour as in :func:`~gaplab.metrics.retrieval_recall`: the top hit
    counts as the own modality only if the best own-modality score *beats* the best
    other-modality score, and as the pair if no other row beats the best pair score (so an
    image whose caption has an exact duplicate still finds its pair).

    Parameters
    ----------
    x, y : array (N, d), (K, d)
        Image and text embeddings (row i with row i, or caption k with image ``image_index[k]``).
    image_index : int array (K,), optional
        Caption k describes image ``image_index[k]``.
    block_rows : int, optional
        Query rows per similarity block (default: blocks of about 128 MiB).
    search_k : int, optional
        Also return ``mixed_ndcg{K}`` and ``mixed_own_share{K}`` of the text-query search.

    Returns
    -------
    dict
        ``mixed_same_modality`` (all queries), ``mixed_same_modality_img`` / ``_txt`` (image /
        text queries only) and ``mixed_pair_r1`` (with ``search_k``: the two search keys). With templated captions many texts are exact
        duplicates, which keeps the text-query share high whatever the gap, so read the
        image-query share there.

    References
    ----------
    Li, Zhang et al., arXiv:2507.19054, 2025 (intra-modal ranking bias in mixed-modality
    search). O((N+K)²·d) time; memory O(block_rows·(N+K)).

    Examples
    --------
    >>> r = mixed_modality_retrieval([[1.0, 0.0], [0.9, 0.1]], [[0.0, 1.0], [0.1, 0.9]])
    >>> r["mixed_same_modality"], r["mixed_same_modality_img"], r["mixed_pair_r1"]
    (1.0, 1.0, 0.0)
    >>> mixed_modality_retrieval([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])["mixed_pair_r1"]
    1.0

    Search: caption 0 ranks caption 1 and image 1 above its own image (rank 2: nDCG
    1/log2(4) = 0.5), caption 1 finds its own image first (1.0); one in three of each top 3 is
    a text.

    >>> r = mixed_modality_retrieval([[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.1, 1.0]], search_k=3)
    >>> r["mixed_ndcg3"], round(r["mixed_own_share3"], 3)
    (0.75, 0.333)
    """
    check_block_rows(block_rows, "mixed_modality_retrieval")
    if search_k is not None and (isinstance(search_k, bool) or not isinstance(search_k, (int, np.integer))
                                 or search_k < 1):
        raise InputError(f"mixed_modality_retrieval: search_k must be a positive integer or None, got {search_k!r}")
    xa, ya, idx = check_pair(x, y, where="mixed_modality_retrieval", image_index=image_index)
    if idx is None:
        idx = np.arange(ya.shape[0])
    xn = normalize_rows(xa.astype(np.float64))
    yn = normalize_rows(ya.astype(np.float64))
    z = np.vstack([xn, yn])
    return mixed_retrieval_from_scores(xn.shape[0], idx, similarity_blocks(z, z, block_rows), search_k=search_k)


def mixed_retrieval_from_scores(
    n: int, idx: np.ndarray, blocks: Iterable[tuple[int, int, np.ndarray]], *, search_k: int | None = None
) -> dict[str, float]:
    """Kernel of :func:`mixed_modality_retrieval` on score blocks of the mixed corpus.

    ``blocks`` yields ``(lo, hi, s)``: ``s`` (hi − lo, N + K) holds the scores of queries
    ``lo..hi`` of :math:`[X; Y]` (images first) against every row of it, larger = better —
    cosines of normalised rows, or any re-scoring (e.g.
    :meth:`gaplab.mitigate.Mitigation.similarity`). ``idx`` (K,) maps caption k to its image;
    the blocks must cover every query once. The blocks are overwritten.
    """
    k = int(idx.shape[0])
    order = np.argsort(idx, kind="stable")
    same = np.zeros(n + k, dtype=bool)
    pair = np.zeros(n + k, dtype=bool)
    ndcg = np.zeros(k)
    share = np.zeros(k)
    for lo, hi, s in blocks:
        rows = np.arange(hi - lo)
        q = np.arange(lo, hi)
        if search_k is not None and hi > n:
            t = rows[q >= n]
            ndcg[q[t] - n], share[q[t] - n] = _search_rows(s[t], n, idx, idx[q[t] - n], search_k)
        s[rows, q] = -np.inf  # never the query itself
        is_image = q < n
        best_image = s[:, :n].max(axis=1)
        best_text = s[:, n:].max(axis=1)
        own = np.where(is_image, best_image, best_text)
        other = np.where(is_image, best_text, best_image)  # finite: each query has >= 1 of these
        same[lo:hi] = beats(own, other)
        # the best pair score of each query, then the pairs leave the competition
        best_pair = np.full(hi - lo, -np.inf)
        t_rows = rows[~is_image]
        t_cols = idx[q[~is_image] - n]  # a caption's pair: its image
        best_pair[t_rows] = s[t_rows, t_cols]
        s[t_rows, t_cols] = -np.inf
        caps = order[(idx[order] >= lo) & (idx[order] < min(hi, n))]  # captions of the image queries
        i_rows, i_cols = idx[caps] - lo, n + caps
        np.maximum.at(best_pair, i_rows, s[i_rows, i_cols])
        s[i_rows, i_cols] = -np.inf
        has_pair = np.isfinite(best_pair)  # an image without captions has none
        pair[lo:hi] = has_pair & ~beats(s.max(axis=1), np.where(has_pair, best_pair, 0.0))
    out = {
        "mixed_same_modality": float(same.mean()),
        "mixed_same_modality_img": float(same[:n].mean()),
        "mixed_same_modality_txt": float(same[n:].mean()),
        "mixed_pair_r1": float(pair.mean()),
    }
    if search_k is not None:
        out[f"mixed_ndcg{search_k}"] = float(ndcg.mean())
        out[f"mixed_own_share{search_k}"] = float(share.mean())
    return out


def _search_rows(s: np.ndarray, n: int, idx: np.ndarray, own: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """nDCG@top and the text share of the top ``top`` for text-query score rows ``s`` (a copy is used).

    Row r is a caption of image ``own[r]``: that image's captions leave the corpus; the image
    is the one relevant row.
    """
    s = s.copy()
    r_idx, c_idx = np.nonzero(idx[None, :] == own[:, None])
    s[r_idx, n + c_idx] = -np.inf  # the own image's captions (the query among them)
    rows = np.arange(s.shape[0])
    rank = beats(s, s[rows, own][:, None]).sum(axis=1)
    ndcg = np.where(rank < top, 1.0 / np.log2(rank + 2.0), 0.0)
    finite = np.isfinite(s)
    k_eff = np.minimum(top, finite.sum(axis=1))
    kth = -np.sort(-s, axis=1)[rows, k_eff - 1][:, None]
    above = beats(s, kth)
    tied = finite & ~above & ~beats(kth, s)
    is_text = np.zeros(s.shape[1], dtype=bool)
    is_text[n:] = True
    room = k_eff - above.sum(axis=1)
    tied_img = (tied & ~is_text).sum(axis=1)
    tied_txt = (tied & is_text).sum(axis=1)
    texts = (above & is_text).sum(axis=1) + np.clip(room - tied_img, 0, tied_txt)  # ties: images first
    return ndcg, texts / k_eff


# -- k-means on the joint set -----------------------------------------------------------------
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
    (k = number of classes unless given; ``n_init=10``, ``random_state=seed``, scikit-learn)
    and the clusters compared with the class labels (adjusted Rand index, V-measure: higher
    is better) and with the modality of each row (``kmeans_modality_ari``: how far the
    clusters split by modality instead of by class; ≤ 0 = not at all, 1 = clusters are the
    modalities). A gap that dominates the geometry makes k-means find the modalities.

    .. math:: \mathrm{ARI}(c, \ell) = \frac{\mathrm{RI} - \mathbb E[\mathrm{RI}]}{\max\mathrm{RI} - \mathbb E[\mathrm{RI}]}

    Parameters
    ----------
    x, y : array (N, d), (K, d)
        Image and text embeddings (unpaired: N and K may differ).
    labels_x, labels_y : int array (N,), (K,)
        Class of each image and of each text.
    n_clusters : int, optional
        k (default: the number of distinct classes).
    seed : int, default 0
        ``random_state`` of k-means.

    Returns
    -------
    dict
        ``kmeans_ari``, ``kmeans_vmeasure`` (clusters vs classes) and ``kmeans_modality_ari``
        (clusters vs modality).

    References
    ----------
    Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 1982 (k-means);
    Hubert & Arabie, "Comparing partitions", J. Classification 1985 (ARI); Rosenberg &
    Hirschberg, "V-Measure", EMNLP 2007.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0]]
    >>> r = kmeans_agreement(x, x, [0, 1], [0, 1])
    >>> r["kmeans_ari"], r["kmeans_modality_ari"] <= 0  # clusters follow class, not modality
    (1.0, True)
    """
    xa = check_embeddings(x, name="x", where="kmeans_agreement")
    ya = check_embeddings(y, name="y", where="kmeans_agreement")
    if xa.shape[1] != ya.shape[1]:
        raise InputError(f"kmeans_agreement: x {xa.shape} and y {ya.shape} differ in d")
    lx = check_labels(labels_x, xa.shape[0], "kmeans_agreement", "labels_x")
    ly = check_labels(labels_y, ya.shape[0], "kmeans_agreement", "labels_y")
    z = np.vstack([normalize_rows(xa.astype(np.float64)), normalize_rows(ya.astype(np.float64))])
    lab = np.r_[lx, ly]
    k = int(np.unique(lab).size) if n_clusters is None else int(n_clusters)
    if not 2 <= k <= z.shape[0]:
        raise InputError(f"kmeans_agreement: need 2 <= n_clusters <= {z.shape[0]}, got {k}")
    modality = np.r_[np.zeros(xa.shape[0]), np.ones(ya.shape[0])]
    return _kmeans_agreement(z, lab, modality, k, seed)


def _kmeans_agreement(
    z: np.ndarray, lab: np.ndarray, modality: np.ndarray, k: int, seed: int
) -> dict[str, float]:
    """Kernel of :func:`kmeans_agreement` on the pooled normalised rows, their classes and modality."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, v_measure_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenMP threads on small inputs only contend (25x slower on busy CPUs)
        clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    return {
        "kmeans_ari": float(adjusted_rand_score(lab, clusters)),
        "kmeans_vmeasure": float(v_measure_score(lab, clusters)),
        "kmeans_modality_ari": float(adjusted_rand_score(modality, clusters)),
    }


# -- linear probes ----------------------------------------------------------------------------
def linear_probe(
    train_x: Any, train_labels: Any, test_x: Any, test_labels: Any, *, C: float = 1.0
) -> float:
    r"""Test accuracy of a logistic regression (scikit-learn) fit on ``train_x`` only.

    Train on one set, score on another: pass image rows for both for the usual probe, or
    *text* rows to train and *image* rows to test for cross-modal transfer (a classifier
    learnt on text embeddings applied to images, where the gap matters most). Rows are
    L2-normalised first; ``max_iter=2000``.

    .. math:: \mathrm{acc} = \frac1{|T|}\sum_{i\in T}\mathbb 1[\hat f(x_i) = \ell_i],
              \quad \hat f = \text{logistic regression fit on the train rows}

    Parameters
    ----------
    train_x, test_x : array (N, d), (M, d)
        Rows to fit on (at least 2, at least 2 classes) and rows to score.
    train_labels, test_labels : int array (N,), (M,)
        Their classes.
    C : float, default 1.0
        Inverse regularisation strength.

    Returns
    -------
    float
        Accuracy on the test rows, in [0, 1].

    References
    ----------
    Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
    ICML 2021, §3.2 (linear probes); Zhang et al., "Diagnosing and Rectifying Vision Models
    using Language", ICLR 2023 (train on text embeddings, apply to images).

    Examples
    --------
    >>> linear_probe([[1.0, 0.0], [0.0, 1.0]], [0, 1], [[0.9, 0.1]], [0])
    1.0
    """
    check_C(C, "linear_probe")
    a = normalize_rows(check_embeddings(train_x, name="train_x", where="linear_probe", min_rows=2))
    b = normalize_rows(check_embeddings(test_x, name="test_x", where="linear_probe", min_rows=1))
    if a.shape[1] != b.shape[1]:
        raise InputError(f"linear_probe: train_x {a.shape} and test_x {b.shape} differ in d")
    la = check_labels(train_labels, a.shape[0], "linear_probe", "train_labels")
    lb = check_labels(test_labels, b.shape[0], "linear_probe", "test_labels")
    if np.unique(la).size < 2:
        raise InputError("linear_probe: the training rows hold a single class; need at least 2")
    return _linear_probe(a.astype(np.float64), la, b.astype(np.float64), lb, C)


def _linear_probe(a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray, C: float) -> float:
    """Kernel of :func:`linear_probe` on validated, normalised float64 rows."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=2000).fit(a, la)
    return float(clf.score(b, lb))
