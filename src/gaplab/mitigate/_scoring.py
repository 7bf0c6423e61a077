"""Retrieval, hubness and top-1 from score matrices (for score-level mitigations).

The metric kernels in :mod:`gaplab.metrics` rank by the cosine of embeddings; a score-level
mitigation (``csls``, ``qb-norm``, ``db-norm``) ranks by its own scores
(:meth:`~gaplab.mitigate.Mitigation.similarity`). These take the (queries × gallery) score
matrices and apply the same rules: ranks count the wrong candidates that *beat* the correct
one (ties within ``TIE_TOL`` go to the query), the k nearest are taken in score order with
ties to the lower index, skewness uses the population std. For cosine scores they agree with
:func:`~gaplab.metrics.retrieval_recall` and :func:`~gaplab.metrics.functional.knn.hubness`
(tested).
"""

from __future__ import annotations

import numpy as np

from ..metrics.functional._blocks import beats

__all__ = ["ranks_from_scores", "recall_at", "hubness_from_scores", "zero_shot_from_scores"]


def ranks_from_scores(s_i2t: np.ndarray, s_t2i: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of the first correct match: image→text per image (with a caption), text→image per caption.

    ``s_i2t`` (N, K): image queries × captions; ``s_t2i`` (K, N): caption queries × images;
    ``idx`` (K,) the image of each caption.
    """
    n, k = s_i2t.shape
    own = np.zeros((n, k), dtype=bool)
    own[idx, np.arange(k)] = True
    best = np.where(own, s_i2t, -np.inf).max(axis=1)
    i2t = (beats(s_i2t, best[:, None]) & ~own).sum(axis=1)
    correct = s_t2i[np.arange(k), idx]
    t2i = beats(s_t2i, correct[:, None]).sum(axis=1)
    has = own.any(axis=1)
    return i2t[has], t2i


def recall_at(ranks: tuple[np.ndarray, np.ndarray], ks: tuple[int, ...]) -> dict[str, float]:
    """``{"i2t_rK": ..., "t2i_rK": ...}`` (the keys of :func:`~gaplab.metrics.retrieval_recall`) from ranks."""
    i2t, t2i = ranks
    out = {f"i2t_r{k}": float(np.mean(i2t < k)) for k in ks}
    out.update({f"t2i_r{k}": float(np.mean(t2i < k)) for k in ks})
    return out


def _top_k(s: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def _skew_and_zeros(counts: np.ndarray) -> tuple[float, float]:
    c = counts.astype(np.float64)
    sd = c.std()
    skew = float(np.mean((c - c.mean()) ** 3) / sd**3) if sd > 0 else 0.0
    return skew, float(np.mean(counts == 0))


def hubness_from_scores(s_t2i: np.ndarray, s_i2t: np.ndarray, k: int) -> dict[str, float]:
    """``hubness_image`` / ``antihub_image`` (texts query images) and ``hubness_text`` / ``antihub_text``."""
    out: dict[str, float] = {}
    for side, s in (("image", s_t2i), ("text", s_i2t)):
        counts = np.bincount(_top_k(s, k).ravel(), minlength=s.shape[1])
        out[f"hubness_{side}"], out[f"antihub_{side}"] = _skew_and_zeros(counts)
    return out


def zero_shot_from_scores(s: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of image rows × class-prompt columns (ties to the correct class)."""
    correct = s[np.arange(labels.size), labels]
    return float(np.mean(beats(s, correct[:, None]).sum(axis=1) == 0))
