"""Mean-based fixes: ``center``, ``multi-mean`` and ``noise`` (centering plus Gaussian noise)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_bool, check_choice, check_int, check_real
from .base import Mitigation, register_mitigation

__all__ = ["Center", "MultiMean", "Noise"]


class _MeanShift(Mitigation):
    """Shared transforms: subtract the fitted ``mean_image_`` / ``mean_text_``, then renormalise."""

    # set by the subclasses' ``_fit``
    mean_image_: np.ndarray
    mean_text_: np.ndarray

    def _transform_image(self, x: np.ndarray) -> np.ndarray:
        return self._maybe_renormalize(x - self.mean_image_)

    def _transform_text(self, y: np.ndarray) -> np.ndarray:
        return self._maybe_renormalize(y - self.mean_text_)


@register_mitigation("center")
class Center(_MeanShift):
    r"""Subtract each modality's mean, then renormalise: the "shared mean" fix.

    .. math::

        \mu_x = \frac1N\sum_i \hat x_i,\quad \mu_y = \frac1K\sum_k \hat y_k,\qquad
        x' = \frac{\hat x - \mu_x}{\lVert \hat x - \mu_x\rVert},\quad
        y' = \frac{\hat y - \mu_y}{\lVert \hat y - \mu_y\rVert}

    with :math:`\hat\cdot` the L2-normalised rows and the means learnt by ``fit``. Before
    renormalisation both modality means are exactly 0, so L2M is 0 on the fitting data;
    renormalisation leaves a small residual.

    When it helps: anything that compares embeddings of *different* modalities in one list
    (mixed-modality search, k-means on the joint set, classifiers trained on one modality and
    applied to the other). It cannot help a single cross-modal ranking much: before
    renormalisation, subtracting :math:`\mu_y` from every text changes every score of an image
    query by the same constant :math:`x\cdot\mu_y`, so image→text rankings move only through
    the renormalisation. It removes the centroid gap (L2M) but not the part of the gap that
    lives in the shape of the two distributions (RMG, L2I, the sliced Wasserstein distance of
    :func:`gaplab.metrics.functional.distance.sliced_wasserstein`).

    Parameters
    ----------
    renormalize : bool, default True
        Project the centred rows back onto the unit sphere.

    References
    ----------
    Liang et al., "Mind the Gap", NeurIPS 2022, §3 (the gap vector between the two centroids);
    Schrodi et al., "Two Effects, One Trigger", ICLR 2025, §3 (simple post-hoc approaches close
    the gap without improving performance, Takeaway 3).

    Examples
    --------
    >>> m = Center(renormalize=False).fit([[1.0, 0.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, -1.0]])
    >>> m.mean_image_
    array([0.5, 0.5])
    >>> m.transform_image([[1.0, 0.0]])
    array([[ 0.5, -0.5]])
    """

    paper = "Liang et al., NeurIPS 2022, §3; Schrodi et al., ICLR 2025, §3"

    def __init__(self, renormalize: bool = True) -> None:
        self.renormalize = renormalize

    def _fit(
        self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray
    ) -> None:
        check_bool(self.renormalize, "renormalize", "center.fit")
        self.mean_image_ = x.mean(axis=0)
        self.mean_text_ = y.mean(axis=0)


@register_mitigation("multi-mean")
class MultiMean(_MeanShift):
    r"""Separate calibration means for images, corpus texts and query texts.

    .. math::

        x' = \operatorname{N}(\hat x - \mu_{\mathrm{img}}),\quad
        y'_{\mathrm{corpus}} = \operatorname{N}(\hat y - \mu_{\mathrm{corpus}}),\quad
        q' = \operatorname{N}(\hat q - \mu_{\mathrm{query}})

    with :math:`\operatorname{N}` the row normalisation and each :math:`\mu` the mean of its
    group in the calibration set given to ``fit``: images, the texts paired with them (the
    corpus texts) and ``query_text`` (what users type: class prompts, search queries). Query
    texts and captions are different text distributions, so one text mean is wrong for one
    of them. Without ``query_text`` the query mean falls back to the corpus-text mean and the
    method equals ``center``.

    Use ``transform_text(y, role="query")`` (or :meth:`transform_query`) for query texts;
    :func:`gaplab.mitigate.evaluate` does this for the class prompts of zero-shot
    classification and fits with the class prompts as ``query_text``.

    When it helps: mixed-modality search (a text query against a corpus holding images and
    texts), where a single centroid shift leaves queries ranking texts above images.

    Parameters
    ----------
    renormalize : bool, default True
        Project the centred rows back onto the unit sphere.

    References
    ----------
    Li, Zhang, Wang, Liang, Schmidt, Yeung-Levy, "Closing the Modality Gap for Mixed Modality
    Search", arXiv:2507.19054, 2025 (GR-CLIP: post-hoc removal of modality means learnt on a
    calibration set). Our reading: one mean per group, subtracted, then renormalised.

    Examples
    --------
    >>> m = MultiMean(renormalize=False).fit(
    ...     [[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]], query_text=[[-1.0, 0.0]])
    >>> m.mean_query_
    array([-1.,  0.])
    >>> m.transform_text([[-1.0, 0.0]], role="query")
    array([[0., 0.]])
    """

    paper = "Li, Zhang et al., arXiv:2507.19054, 2025 (GR-CLIP)"
    fit_params = ("query_text",)

    def __init__(self, renormalize: bool = True) -> None:
        self.renormalize = renormalize

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        image_index: np.ndarray | None,
        query_text: np.ndarray | None = None,
        **extra: np.ndarray,
    ) -> None:
        check_bool(self.renormalize, "renormalize", "multi-mean.fit")
        self.mean_image_ = x.mean(axis=0)
        self.mean_text_ = y.mean(axis=0)
        self.mean_query_ = self.mean_text_.copy() if query_text is None else query_text.mean(axis=0)
        self.n_query_ = 0 if query_text is None else int(query_text.shape[0])

    def transform_text(self, y: Any, role: str = "corpus") -> np.ndarray:
        """Transformed texts; ``role="query"`` uses the query-text mean, ``"corpus"`` the caption mean."""
        check_choice(role, "role", "multi-mean.transform_text", ("corpus", "query"))
        a, dtype = self._prepare(y, "y", "transform_text")
        mean = self.mean_query_ if role == "query" else self.mean_text_
        return self._maybe_renormalize(a - mean).astype(dtype, copy=False)

    def transform_query(self, q: Any) -> np.ndarray:
        """``transform_text(q, role="query")``."""
        return self.transform_text(q, role="query")


@register_mitigation("noise")
class Noise(Mitigation):
    r"""Centre both modalities and add Gaussian noise to one of them ("collapse and corrupt").

    .. math::

        x' = \operatorname{N}(\hat x - \mu_x),\qquad
        y' = \operatorname{N}(\hat y - \mu_y + \varepsilon),\quad
        \varepsilon \sim \mathcal N\!\big(0, \tfrac{\sigma^2}{d} I_d\big)

    (noise on the texts for ``modality="text"``, on the images for ``"image"``). The noise
    has expected norm close to :math:`\sigma` whatever d is; that is our reading of the
    papers' per-coordinate variance, chosen so one ``std`` means the same on 32-d and 768-d
    embeddings. The noise is drawn from ``numpy.random.default_rng(seed)`` afresh on every
    call, so a transform is deterministic for a given input shape (and a saved and reloaded
    object reproduces it exactly).

    When it helps: training-free cross-modal transfer — a classifier or decoder trained on
    *text* embeddings and applied to *image* embeddings (the cross-modal probe of
    :func:`gaplab.mitigate.evaluate`): the centring closes the centroid gap and the noise
    covers the residual misalignment of matched pairs. It deliberately blurs the noisy
    modality, so retrieval with noisy embeddings as queries or corpus gets worse as ``std``
    grows.

    Parameters
    ----------
    std : float, default 0.1
        Expected norm of the noise vector (per-coordinate standard deviation ``std/sqrt(d)``).
    modality : {"text", "image"}, default "text"
        Which modality gets the noise.
    center : bool, default True
        Subtract each modality's mean (the "collapse" step) before adding noise.
    seed : int, default 0
        Seed of the noise.
    renormalize : bool, default True
        Project the rows back onto the unit sphere.

    References
    ----------
    Zhang, Sui, Yeung-Levy, "Connect, Collapse, Corrupt: Learning Cross-Modal Tasks with
    Uni-Modal Data", ICLR 2024 (C³); Nukrai, Mokady, Globerson, "Text-Only Training for Image
    Captioning using Noise-Injected CLIP", Findings of EMNLP 2022 (CapDec).

    Examples
    --------
    >>> m = Noise(std=0.0, renormalize=False).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]])
    >>> m.transform_text([[1.0, 0.0]])  # std=0: plain centring
    array([[0., 0.]])
    """

    paper = "Zhang, Sui, Yeung-Levy, ICLR 2024 (C3); Nukrai et al., EMNLP Findings 2022"

    def __init__(
        self,
        std: float = 0.1,
        modality: str = "text",
        center: bool = True,
        seed: int = 0,
        renormalize: bool = True,
    ) -> None:
        self.std = std
        self.modality = modality
        self.center = center
        self.seed = seed
        self.renormalize = renormalize

    def _fit(
        self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray
    ) -> None:
        where = f"{self.name}.fit"
        check_real(self.std, "std", where, low=0.0)
        check_choice(self.modality, "modality", where, ("text", "image"))
        center = self._centers(where)
        check_bool(self.renormalize, "renormalize", where)
        check_int(self.seed, "seed", where, low=0)
        d = x.shape[1]
        self.mean_image_ = x.mean(axis=0) if center else np.zeros(d)
        self.mean_text_ = y.mean(axis=0) if center else np.zeros(d)

    def _centers(self, where: str) -> bool:
        """Whether the fit removes each modality's mean (the ``center`` parameter here)."""
        check_bool(self.center, "center", where)
        return bool(self.center)

    def _noise(self, shape: tuple[int, int]) -> np.ndarray:
        if float(self.std) == 0.0:
            return np.zeros(shape)
        rng = np.random.default_rng(int(self.seed))
        return rng.standard_normal(shape) * (float(self.std) / np.sqrt(shape[1]))

    def _noise_at_transform(self) -> bool:
        """Whether ``transform_*`` add the noise (always here; :class:`~gaplab.mitigate.C3` makes it a switch)."""
        return True

    def _collapse(self, a: np.ndarray, is_text: bool, noisy: bool) -> np.ndarray:
        z = a - (self.mean_text_ if is_text else self.mean_image_)
        if noisy and self.modality == ("text" if is_text else "image"):
            z = z + self._noise(z.shape)
        return self._maybe_renormalize(z)

    def _transform_image(self, x: np.ndarray) -> np.ndarray:
        return self._collapse(x, False, self._noise_at_transform())

    def _transform_text(self, y: np.ndarray) -> np.ndarray:
        return self._collapse(y, True, self._noise_at_transform())
