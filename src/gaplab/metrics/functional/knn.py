"""Neighbourhood metrics: mutual k-nearest neighbours across modalities, and hubness.

Both need each row's k most similar rows, found in one blockwise pass over float64
similarity blocks (:mod:`~gaplab.metrics.functional._onepass`, memory O(block × N)). Ranking: a larger cosine ranks first; cosines within
:data:`~gaplab.metrics.functional._blocks.TIE_TOL` of each other are ties, broken towards
the lower index, so exact duplicates give the same neighbours whatever the block size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows
from ._blocks import check_block_rows
from ._onepass import cross_pass, self_pass, top_k_pass

__all__ = ["top_k_neighbours", "mutual_knn", "hubness"]

#: kernel of :func:`top_k_neighbours` on normalised rows (used by the bootstrap intervals)
_top_k = top_k_pass


def _check_k(k: Any, n_candidates: int, where: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"{where}: k must be a positive integer, got {k!r}")
    if k > n_candidates:
        raise InputError(f"{where}: k = {k} exceeds the {n_candidates} candidates each query has")
    return int(k)


def top_k_neighbours(
    queries: Any, corpus: Any | None = None, *, k: int = 10, block_rows: int | None = None
) -> np.ndarray:
    """Indices of each query's ``k`` most cosine-similar corpus rows, most similar first.

    Without ``corpus`` the queries search among themselves, each excluding itself. Ties
    (cosines within 1e-9) go to the lower index.

    Examples
    --------
    >>> top_k_neighbours([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], k=1).ravel().tolist()
    [1, 0, 1]
    """
    check_block_rows(block_rows, "top_k_neighbours")
    q = normalize_rows(check_embeddings(queries, name="queries", where="top_k_neighbours", min_rows=1))
    if corpus is None:
        return top_k_pass(q, q, _check_k(k, q.shape[0] - 1, "top_k_neighbours"), exclude_self=True,
                          block_rows=block_rows)
    c = normalize_rows(check_embeddings(corpus, name="corpus", where="top_k_neighbours", min_rows=1))
    if c.shape[1] != q.shape[1]:
        raise InputError(f"top_k_neighbours: queries {q.shape} and corpus {c.shape} differ in d")
    return top_k_pass(q, c, _check_k(k, c.shape[0], "top_k_neighbours"), exclude_self=False,
                      block_rows=block_rows)


def _mutual_knn(xn: np.ndarray, yn: np.ndarray, k: int, block_rows: int | None) -> float:
    return _shared_neighbours(self_pass(xn, k=k, block_rows=block_rows).knn,
                              self_pass(yn, k=k, block_rows=block_rows).knn)


def _shared_neighbours(nx: np.ndarray, ny: np.ndarray) -> float:
    """Mean |N_x(i) ∩ N_y(i)| / k over rows of two (N, k) neighbour-index arrays (no repeats in a row)."""
    n, k = nx.shape
    hits = 0
    for lo in range(0, n, 4096):  # (rows, k, k) comparisons, a slice at a time
        hits += int((nx[lo : lo + 4096, :, None] == ny[lo : lo + 4096, None, :]).sum())
    return hits / (n * k)


def mutual_knn(x: Any, y: Any, *, k: int = 10, block_rows: int | None = None) -> float:
    r"""Mutual k-nearest-neighbour alignment of the two modalities (Huh et al., 2024).

    .. math:: \mathrm{mKNN} = \frac{1}{N}\sum_i \frac{|N^x_k(i)\cap N^y_k(i)|}{k}

    :math:`N^x_k(i)`: the k rows j ≠ i whose images are most cosine-similar to image i;
    :math:`N^y_k(i)` the same among the texts. Chance level k/(N − 1). Huh et al., "The
    Platonic Representation Hypothesis", ICML 2024. One-to-one pairs only.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
    >>> mutual_knn(x, x, k=1)
    1.0
    """
    check_block_rows(block_rows, "mutual_knn")
    xa, ya, _ = check_pair(x, y, where="mutual_knn")
    k = _check_k(k, xa.shape[0] - 1, "mutual_knn")
    return _mutual_knn(normalize_rows(xa), normalize_rows(ya), k, block_rows)


def _k_occurrence_stats(counts: np.ndarray) -> tuple[float, float]:
    """(skewness, share of zeros) of the k-occurrence counts N_k."""
    c = counts.astype(np.float64)
    sd = c.std()
    skew = float(np.mean((c - c.mean()) ** 3) / sd**3) if sd > 0 else 0.0
    return skew, float(np.mean(counts == 0))


def _hubness(xn: np.ndarray, yn: np.ndarray, k: int, block_rows: int | None) -> dict[str, float]:
    r = cross_pass(xn, yn, None, k=k, block_rows=block_rows)
    return _hubness_from(r.knn_t2i, r.knn_i2t, xn.shape[0], yn.shape[0])


def _hubness_from(img_nbrs: np.ndarray, txt_nbrs: np.ndarray, n_img: int, n_txt: int) -> dict[str, float]:
    """Hubness keys from the k nearest images of each text and the k nearest texts of each image."""
    out: dict[str, float] = {}
    for side, nbrs, n in (("image", img_nbrs, n_img), ("text", txt_nbrs, n_txt)):
        counts = np.bincount(nbrs.ravel(), minlength=n)
        out[f"hubness_{side}"], out[f"antihub_{side}"] = _k_occurrence_stats(counts)
    return out


def hubness(x: Any, y: Any, *, k: int = 10, image_index: Any = None, block_rows: int | None = None) -> dict[str, float]:
    r"""Hubness of cross-modal retrieval: skewness of the k-occurrence, and the anti-hub share.

    .. math:: S_{N_k} = \frac{\operatorname{mean}\big((N_k - \bar N_k)^3\big)}{\operatorname{std}(N_k)^3}

    For ``hubness_image`` every text queries its k most similar images and :math:`N_k(j)`
    counts the queries whose top k holds image j (population std); ``antihub_image`` is the
    share of images with :math:`N_k = 0`. ``hubness_text`` / ``antihub_text``: images query
    texts. With one-to-one pairs :math:`\bar N_k = k`. Radovanović et al., JMLR 2010;
    Bogolin et al., CVPR 2022 (cross-modal). Returns
    ``{"hubness_image", "antihub_image", "hubness_text", "antihub_text"}``.

    Examples
    --------
    >>> h = hubness([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], [[1.0, 0.1], [0.1, 1.0], [0.6, 0.8]], k=1)
    >>> h["antihub_image"]
    0.0
    """
    check_block_rows(block_rows, "hubness")
    xa, ya, _ = check_pair(x, y, where="hubness", image_index=image_index)
    k = _check_k(k, min(xa.shape[0], ya.shape[0]), "hubness")
    return _hubness(normalize_rows(xa), normalize_rows(ya), k, block_rows)
