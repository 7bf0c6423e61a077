"""Structure of the two modalities from d×d second moments: CKA, Procrustes, Fréchet, effective rank.

Every metric here is a function of float64 second moments of the L2-normalised rows
(:class:`SecondMoments`: Σx̂x̂ᵀ, Σŷŷᵀ, Σx̂ŷᵀ and the row sums), which add up over batches
and shards, so they are exact on sharded dumps too. Memory: four d×d float64 matrices
(8 MiB at d = 512); cost O(N·d²).

With ``image_index`` (several captions per image) the pair-level metrics (CKA, Procrustes)
pair caption k with its image π(k), so an image counts once per caption; the
distribution-level ones (Fréchet, effective rank) count every image once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows

__all__ = [
    "SecondMoments", "second_moments", "cka", "cka_debiased", "procrustes_distance",
    "frechet_distance", "frechet_distance_centered", "effective_rank",
]


@dataclass
class SecondMoments:
    """float64 first and second moments of normalised rows; :meth:`merge` adds them exactly.

    ``x*`` over images (each once), ``y*`` over texts, ``p*`` over matched pairs
    (x̂_π(k), ŷ_k): ``sum_p`` = Σ x̂_π(k), ``pp`` = Σ x̂_π x̂_πᵀ, ``py`` = Σ x̂_π ŷᵀ.
    """

    dim: int
    n_x: int = 0
    n_y: int = 0
    n_pairs: int = 0
    sum_x: np.ndarray = None  # type: ignore[assignment]
    sum_y: np.ndarray = None  # type: ignore[assignment]
    sum_p: np.ndarray = None  # type: ignore[assignment]
    xx: np.ndarray = None  # type: ignore[assignment]
    yy: np.ndarray = None  # type: ignore[assignment]
    pp: np.ndarray = None  # type: ignore[assignment]
    py: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        d = self.dim
        for name in ("sum_x", "sum_y", "sum_p"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(d))
        for name in ("xx", "yy", "pp", "py"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros((d, d)))

    def merge(self, other: SecondMoments) -> SecondMoments:
        """The moments of both row sets together: a new object, every sum and count added.

        Raises :class:`InputError` when the two have different dimensions ``dim``.
        """
        if self.dim != other.dim:
            raise InputError(f"merge: second moments of d={self.dim} and d={other.dim}")
        return SecondMoments(dim=self.dim, **{
            f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self) if f.name != "dim"
        })

    def update(self, xn: np.ndarray, yn: np.ndarray, idx: np.ndarray | None = None,
               block_rows: int = 4096) -> SecondMoments:
        """Add normalised rows (``idx``: caption → image of this batch); returns ``self``.

        One-to-one (``idx`` None, as many captions as images) the pair-side image moments are
        the image moments: taken once.
        """
        same = idx is None and xn.shape[0] == yn.shape[0]
        for lo in range(0, xn.shape[0], block_rows):
            b = np.asarray(xn[lo : lo + block_rows], dtype=np.float64)
            s, bb = b.sum(axis=0), b.T @ b
            self.n_x += b.shape[0]
            self.sum_x += s
            self.xx += bb
            if same:
                self.sum_p += s
                self.pp += bb
        for lo in range(0, yn.shape[0], block_rows):
            by = np.asarray(yn[lo : lo + block_rows], dtype=np.float64)
            bp = np.asarray(xn[lo : lo + block_rows] if idx is None else xn[idx[lo : lo + block_rows]],
                            dtype=np.float64)
            self.n_y += by.shape[0]
            self.n_pairs += by.shape[0]
            self.sum_y += by.sum(axis=0)
            self.yy += by.T @ by
            self.py += bp.T @ by
            if not same:
                self.sum_p += bp.sum(axis=0)
                self.pp += bp.T @ bp
        return self

    # ---- centred (pair-level) cross moments -----------------------------------------
    def _centred_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X̄ᵀX̄, ȲᵀȲ, X̄ᵀȲ over the matched pairs (columns centred)."""
        n = self.n_pairs
        mp, my = self.sum_p / n, self.sum_y / n
        return (self.pp - n * np.outer(mp, mp), self.yy - n * np.outer(my, my), self.py - n * np.outer(mp, my))

    def cka(self) -> float:
        """Linear CKA over the matched pairs, in [0, 1]; NaN when a modality is constant.

        See :func:`cka` for the formula.
        """
        cxx, cyy, cxy = self._centred_pairs()
        denom = np.linalg.norm(cxx) * np.linalg.norm(cyy)
        return float(np.sum(cxy**2) / denom) if denom > 0 else float("nan")

    def cka_debiased(self) -> float:
        """Linear CKA with the unbiased HSIC estimator over the matched pairs.

        See :func:`cka_debiased`. NaN when an HSIC self-term is not positive; raises
        :class:`InputError` with fewer than 4 pairs.
        """
        n = self.n_pairs
        if n < 4:
            raise InputError(f"cka_debiased: needs at least 4 pairs, got {n}")
        sx, sy = self.sum_p, self.sum_y

        def hsic(tr_kl: float, one_k: float, one_l: float, one_kl: float) -> float:
            return (tr_kl + one_k * one_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * one_kl) / (n * (n - 3))

        # zero-diagonal linear kernels of unit rows: K̃ = X Xᵀ − I, L̃ = Y Yᵀ − I
        one_k, one_l = float(sx @ sx) - n, float(sy @ sy) - n
        kl = hsic(float(np.sum(self.py**2)) - n, one_k, one_l,
                  float(sx @ self.py @ sy) - float(sx @ sx) - float(sy @ sy) + n)
        kk = hsic(float(np.sum(self.pp**2)) - n, one_k, one_k, float(sx @ self.pp @ sx) - 2 * float(sx @ sx) + n)
        ll = hsic(float(np.sum(self.yy**2)) - n, one_l, one_l, float(sy @ self.yy @ sy) - 2 * float(sy @ sy) + n)
        return float(kl / np.sqrt(kk * ll)) if kk > 0 and ll > 0 else float("nan")

    def procrustes_distance(self) -> float:
        """Orthogonal Procrustes distance over the matched pairs, in [0, √2].

        See :func:`procrustes_distance`; NaN when a modality is constant.
        """
        cxx, cyy, cxy = self._centred_pairs()
        scale = np.sqrt(np.trace(cxx) * np.trace(cyy))
        if scale <= 0:
            return float("nan")
        nuclear = float(np.linalg.svd(cxy / scale, compute_uv=False).sum())
        return float(np.sqrt(max(0.0, 2.0 - 2.0 * nuclear)))

    def _covariances(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        mx, my = self.sum_x / self.n_x, self.sum_y / self.n_y
        return mx, my, self.xx / self.n_x - np.outer(mx, mx), self.yy / self.n_y - np.outer(my, my)

    def frechet_centered(self) -> float:
        """The covariance (trace) part of the Fréchet distance, ≥ 0; see :func:`frechet_distance_centered`."""
        _, _, cx, cy = self._covariances()
        w, v = np.linalg.eigh(cx)
        root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # Σx^½
        cross = np.linalg.eigvalsh(root @ cy @ root)
        return float(max(0.0, np.trace(cx) + np.trace(cy) - 2.0 * np.sqrt(np.clip(cross, 0.0, None)).sum()))

    def frechet(self) -> float:
        """Fréchet distance between Gaussians fitted to the modalities; see :func:`frechet_distance`.

        The squared mean difference ‖μx − μy‖² plus :meth:`frechet_centered`; every image
        counts once.
        """
        mx, my, _, _ = self._covariances()
        return float(np.sum((mx - my) ** 2)) + self.frechet_centered()

    def values(self) -> dict[str, float]:
        """Every metric of these moments, the Fréchet centred part computed once.

        Keys: ``cka``, ``cka_debiased`` (NaN below 4 pairs), ``procrustes_distance``,
        ``frechet_distance``, ``frechet_distance_centered``, ``erank_image``, ``erank_text``.
        """
        fc = self.frechet_centered()
        mx, my, _, _ = self._covariances()
        return {"cka": self.cka(), "cka_debiased": self.cka_debiased() if self.n_pairs >= 4 else float("nan"),
                "procrustes_distance": self.procrustes_distance(),
                "frechet_distance": float(np.sum((mx - my) ** 2)) + fc, "frechet_distance_centered": fc,
                "erank_image": self.effective_rank("x"), "erank_text": self.effective_rank("y")}

    def effective_rank(self, side: str) -> float:
        """Effective rank of the image rows (``side="x"``) or text rows (any other ``side``).

        A value in [1, d]; see :func:`effective_rank`.
        """
        return _effective_rank(self.xx if side == "x" else self.yy)


def _effective_rank(gram: np.ndarray) -> float:
    """exp(entropy) of the singular values σ = √eig(AᵀA) of rows A, from their Gram matrix AᵀA."""
    sigma = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None))
    p = sigma / sigma.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def second_moments(x: Any, y: Any, *, image_index: Any = None, where: str = "second_moments") -> SecondMoments:
    """Validate ``x``, ``y`` and return the :class:`SecondMoments` of their normalised rows."""
    xa, ya, idx = check_pair(x, y, where=where, image_index=image_index)
    return SecondMoments(dim=xa.shape[1]).update(normalize_rows(xa), normalize_rows(ya), idx)


def cka(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Linear CKA between the modalities (1 = same structure up to rotation and scale).

    .. math:: \mathrm{CKA} = \frac{\lVert \bar X^\top \bar Y\rVert_F^2}{\lVert \bar X^\top \bar X\rVert_F\,\lVert \bar Y^\top \bar Y\rVert_F}

    with :math:`\bar X, \bar Y` the column-centred normalised rows of matched pairs.
    Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019.
    Computed from d×d moments, O(N·d²), exact over shards.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]
    >>> round(cka(x, [[0.0, 1.0], [1.0, 0.0], [0.8, 0.6]]), 6)  # y = x with axes swapped
    1.0
    """
    return second_moments(x, y, image_index=image_index, where="cka").cka()


def cka_debiased(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Linear CKA with the unbiased HSIC estimator (less biased upward at small N).

    .. math:: \mathrm{HSIC}_u(K,L) = \frac{\operatorname{tr}(\tilde K\tilde L) + \frac{\mathbf 1^\top\tilde K\mathbf 1\,
              \mathbf 1^\top\tilde L\mathbf 1}{(n-1)(n-2)} - \frac{2}{n-2}\mathbf 1^\top\tilde K\tilde L\mathbf 1}{n(n-3)},
              \quad \mathrm{CKA}_u = \frac{\mathrm{HSIC}_u(K,L)}{\sqrt{\mathrm{HSIC}_u(K,K)\,\mathrm{HSIC}_u(L,L)}}

    :math:`\tilde K = \hat X\hat X^\top` and :math:`\tilde L = \hat Y\hat Y^\top` with zeroed
    diagonals. Song et al., JMLR 2012 (the estimator); Kornblith et al. 2019 (CKA). Every
    term is a function of the d×d moments because the rows have unit norm. Needs N ≥ 4.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(50, 4))
    >>> round(cka_debiased(x, x), 6)
    1.0
    """
    return second_moments(x, y, image_index=image_index, where="cka_debiased").cka_debiased()


def procrustes_distance(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Orthogonal Procrustes distance between the centred, unit-Frobenius modalities.

    .. math:: d_P = \sqrt{\max\big(0,\ 2 - 2\lVert \bar X^\top \bar Y\rVert_*\big)},\qquad
              \lVert\bar X\rVert_F = \lVert\bar Y\rVert_F = 1

    (:math:`\lVert\cdot\rVert_*` the nuclear norm): 0 when one modality is a rotation of the
    other, at most √2. Williams et al., "Generalized Shape Metrics on Neural
    Representations", NeurIPS 2021; Ding et al. 2021.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    >>> round(procrustes_distance(x, [[0.0, 1.0], [-1.0, 0.0], [1.0, -1.0]]), 6)  # a rotation
    0.0
    """
    return second_moments(x, y, image_index=image_index, where="procrustes_distance").procrustes_distance()


def frechet_distance(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""Fréchet distance between Gaussians fitted to the two modalities (the FID formula).

    .. math:: \lVert\mu_x - \mu_y\rVert^2 + \operatorname{tr}\big(\Sigma_x + \Sigma_y -
              2(\Sigma_x^{1/2}\Sigma_y\Sigma_x^{1/2})^{1/2}\big)

    Population covariances of the normalised rows, every image counted once. Heusel et al.,
    NeurIPS 2017 (FID); Dowson & Landau 1982. The first term is L2M²; the trace is
    :func:`frechet_distance_centered`, the "distribution gap" centering leaves.

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0]]
    >>> round(frechet_distance(x, x), 6)
    0.0
    """
    return second_moments(x, y, image_index=image_index, where="frechet_distance").frechet()


def frechet_distance_centered(x: Any, y: Any, *, image_index: Any = None) -> float:
    r"""The trace part of :func:`frechet_distance`: what is left after the means coincide.

    .. math:: \operatorname{tr}\big(\Sigma_x + \Sigma_y - 2(\Sigma_x^{1/2}\Sigma_y\Sigma_x^{1/2})^{1/2}\big)

    Examples
    --------
    >>> x = [[1.0, 0.0], [0.0, 1.0]]
    >>> round(frechet_distance_centered(x, [[-1.0, 0.0], [0.0, -1.0]]), 6)  # a shifted copy
    0.0
    """
    return second_moments(x, y, image_index=image_index, where="frechet_distance_centered").frechet_centered()


def effective_rank(x: Any) -> float:
    r"""Effective rank of one modality's normalised (uncentred) rows.

    .. math:: \mathrm{erank} = \exp\Big(-\sum_j p_j\log p_j\Big),\quad p_j = \sigma_j/\textstyle\sum_k\sigma_k

    (σ the singular values). Roy & Vetterli, EUSIPCO 2007; Garrido et al., "RankMe", ICML
    2023. 1 when all rows are parallel, d when the spectrum is flat.

    Examples
    --------
    >>> round(effective_rank([[1.0, 0.0], [0.0, 1.0]]), 6)  # flat spectrum in 2-D
    2.0
    """
    a = np.asarray(normalize_rows(check_embeddings(x, name="embeddings (x)", where="effective_rank")), np.float64)
    return _effective_rank(a.T @ a)
