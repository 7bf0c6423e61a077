"""``procrustes``: the orthogonal map of text onto image (paper 000's gap-amended init)."""

from __future__ import annotations

import numpy as np

from .base import Mitigation, register_mitigation

__all__ = ["Procrustes"]


@register_mitigation("procrustes")
class Procrustes(Mitigation):
    r"""Rotate the texts onto their paired images with the best orthogonal matrix.

    .. math::

        R = \operatorname*{arg\,min}_{R^\top R = I}\ \lVert \hat Y R - \hat X\rVert_F
          = U V^\top \ \text{ where }\ \hat Y^\top \hat X = U \Sigma V^\top,\qquad
        x' = \hat x,\quad y' = \hat y R

    solved by :func:`scipy.linalg.orthogonal_procrustes` on the fitting pairs (row i of X and
    Y matched, or caption k with image ``image_index[k]``). Images are only normalised. An
    orthogonal map keeps norms and every text–text cosine, so text-side structure is
    untouched; what changes is where the texts sit relative to the images.

    When it helps: when the two towers encode the same content in rotated coordinates — then
    the rotation closes both the centroid gap and much of the pairwise one (L2I, RMG), and
    cross-modal retrieval can improve. It needs matched pairs, and with d close to the
    number of pairs it overfits the fitting set (evaluate on held-out pairs).

    References
    ----------
    Liang et al., "Mind the Gap", NeurIPS 2022, §4.4 ("gap-amended" initialisation:
    :math:`W = \arg\min_{W\in O_D}\lVert X - YW\rVert`, after the multilingual word-embedding
    alignment they cite); Schönemann, Psychometrika 1966 (the SVD solution).

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]
    >>> y = [[0.0, 1.0], [-1.0, 0.0], [-0.8, 0.6]]  # x rotated by +90 degrees
    >>> m = Procrustes().fit(x, y)
    >>> np.round(m.rotation_, 6) + 0.0
    array([[ 0., -1.],
           [ 1.,  0.]])
    >>> np.round(m.transform_text(y), 6) + 0.0
    array([[1. , 0. ],
           [0. , 1. ],
           [0.6, 0.8]])
    """

    paper = "Liang et al., NeurIPS 2022, §4.4 (gap-amended init)"
    needs_pairs = True

    def __init__(self) -> None:
        pass

    def _fit(
        self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray
    ) -> None:
        from scipy.linalg import orthogonal_procrustes

        xp = x if image_index is None else x[image_index]
        r, _ = orthogonal_procrustes(y, xp)
        self.rotation_ = np.asarray(r, dtype=np.float64)

    def _transform_image(self, x: np.ndarray) -> np.ndarray:
        return x

    def _transform_text(self, y: np.ndarray) -> np.ndarray:
        return y @ self.rotation_
