"""Score-level hubness fixes: ``csls``, ``qb-norm``, ``db-norm``.

They leave the embeddings where they are (``transform_*`` only normalise) and re-score
query–gallery pairs against *banks*: the normalised train-split images and texts given to
``fit`` (disjoint from any held-out query). They override
:meth:`~gaplab.mitigate.Mitigation.similarity`, which :func:`gaplab.mitigate.compare` ranks
with for R@K, hubness, mixed-modality search and the flip rate. Only the order of one query's
scores carries meaning (each adds per-query constants).

The bank of a modality is its fitting rows. For a query of modality :math:`m_q` the *query
bank* :math:`B_q` holds the fitting rows of :math:`m_q`; the *gallery bank* of a gallery row
of modality :math:`m_g` holds those of :math:`m_g` (so in a mixed corpus a text gallery row is
judged against the text bank, an image row against the image bank).

What is saved (``save`` / ``--save-state``) is the banks and the parameters; a transformed
pairs file (``--out``) holds the embeddings unchanged (normalised), since the fix lives in
the scores, not in the vectors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._errors import InputError
from ._checks import check_bool, check_int, check_real
from .base import Mitigation, register_mitigation

__all__ = ["CSLS", "QBNorm", "DBNorm"]


def _logsumexp_rows(s: np.ndarray, beta: float) -> np.ndarray:
    """Log Σ_b exp(β s[b, g]) over the bank axis 0, for each gallery column g (stable)."""
    from scipy.special import logsumexp

    return np.asarray(logsumexp(beta * s, axis=0), dtype=np.float64)


class _BankScorer(Mitigation):
    """Stores the normalised fitting rows as banks; embeddings pass through unchanged."""

    score_level = True
    image_bank_: np.ndarray
    text_bank_: np.ndarray

    def _check_params(self, where: str) -> None:  # pragma: no cover - every subclass overrides
        pass

    def _fit(
        self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray
    ) -> None:
        self._check_params(f"{self.name}.fit")
        self.image_bank_ = x.copy()
        self.text_bank_ = y.copy()

    def _transform_image(self, x: np.ndarray) -> np.ndarray:
        return x

    def _transform_text(self, y: np.ndarray) -> np.ndarray:
        return y

    def _bank(self, is_text: bool) -> np.ndarray:
        return self.text_bank_ if is_text else self.image_bank_

    def _per_gallery(self, g: np.ndarray, is_text: np.ndarray, fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                     *, query_side: bool, query_is_text: bool) -> np.ndarray:
        """``fn(bank, rows)`` for each gallery modality present; bank = query bank or the row's own."""
        out = np.empty(g.shape[0])
        for mod in (False, True):
            sel = is_text == mod
            if sel.any():
                bank = self._bank(query_is_text if query_side else mod)
                out[sel] = fn(bank, g[sel])
        return out


@register_mitigation("csls")
class CSLS(_BankScorer):
    r"""Cross-domain similarity local scaling: penalise rows that are close to everything.

    .. math::

        \mathrm{CSLS}(q, g) = 2\cos(q, g) - r_G(q) - r_Q(g),\qquad
        r_Q(g) = \frac1k\sum_{b\,\in\,\mathrm{NN}_k(g,\,B_q)} \cos(g, b),\quad
        r_G(q) = \frac1k\sum_{b\,\in\,\mathrm{NN}_k(q,\,B_g)} \cos(q, b)

    :math:`r_Q(g)`: mean cosine of gallery row g to its k nearest rows of the *query* bank
    :math:`B_q` (train rows of the query's modality); :math:`r_G(q)`: of the query to its k
    nearest rows of the gallery bank (train rows of the gallery's modalities). A hub — a
    gallery row near many queries — has a large :math:`r_Q` and drops. :math:`r_G(q)` is a
    per-query constant that leaves rankings unchanged; it is kept for the formula's sake.
    Lample et al. compute both neighbourhoods among the other side's *test* rows; here the
    banks are the train split (no test query is ever used), which is QB-Norm's discipline.

    When it helps: cross-modal retrieval whose rankings are dominated by a few hub items
    (high k-occurrence skewness), and mixed-modality search, where the query's own-modality
    rows sit close to the whole query bank and are pushed down.

    Parameters
    ----------
    k : int, default 10
        Neighbourhood size (Lample et al. use 10).

    References
    ----------
    Lample, Conneau, Ranzato, Denoyer, Jégou, "Word Translation Without Parallel Data", ICLR
    2018, §2.3 (CSLS); Bogolin et al., CVPR 2022 (CSLS as a cross-modal querybank baseline).

    Examples
    --------
    >>> m = CSLS(k=1).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.6, 0.8]])
    >>> s = m.similarity([[0.6, 0.8]], [[1.0, 0.0], [0.0, 1.0]])
    >>> np.round(s, 6) + 0.0  # 2cos - r_G(q) - r_Q(g): r_G(q) = 0.8, r_Q = (1, 0.8)
    array([[-0.6,  0. ]])
    """

    paper = "Lample et al., ICLR 2018, §2.3 (CSLS)"

    def __init__(self, k: int = 10) -> None:
        self.k = k

    def _check_params(self, where: str) -> None:
        check_int(self.k, "k", where, low=1)

    def _fit(
        self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray
    ) -> None:
        where = "csls.fit"
        self._check_params(where)
        if self.k > min(x.shape[0], y.shape[0]):
            raise InputError(
                f"{where}: k = {self.k} exceeds the banks ({x.shape[0]} images, {y.shape[0]} texts); "
                "lower k or fit on more rows"
            )
        super()._fit(x, y, image_index)

    def _mean_top_k(self, bank: np.ndarray, rows: np.ndarray) -> np.ndarray:
        s = rows @ bank.T
        k = int(self.k)
        return -np.partition(-s, k - 1, axis=1)[:, :k].mean(axis=1)

    def _similarity(self, q: np.ndarray, g: np.ndarray, query_is_text: bool, is_text: np.ndarray) -> np.ndarray:
        r_gal = self._per_gallery(g, is_text, self._mean_top_k, query_side=True, query_is_text=query_is_text)
        mods = [m for m in (False, True) if (is_text == m).any()]
        r_q = self._mean_top_k(np.vstack([self._bank(m) for m in mods]), q)
        return 2.0 * (q @ g.T) - r_q[:, None] - r_gal[None, :]


def _dynamic_mask(q: np.ndarray, g: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Queries whose raw top-1 gallery row is in the activation set (some bank query's top-1)."""
    active = np.zeros(g.shape[0], dtype=bool)
    active[np.argmax(bank @ g.T, axis=1)] = True
    return active[np.argmax(q @ g.T, axis=1)]


@register_mitigation("qb-norm")
class QBNorm(_BankScorer):
    r"""Querybank normalisation with the inverted softmax: divide by how much the bank likes g.

    .. math::

        \mathrm{IS}(q, g) = \frac{\exp(\beta\cos(q, g))}{\sum_{b \in B_q}\exp(\beta\cos(b, g))},
        \qquad s(q, g) = \beta\cos(q, g) - \log\sum_{b\in B_q} e^{\beta\cos(b, g)} = \log\mathrm{IS}

    with :math:`B_q` the query bank (train rows of the query's modality). We return
    :math:`\log\mathrm{IS}` (same order, no overflow). A gallery row that the whole bank finds
    similar (a hub; in mixed search, a row of the query's own modality) gets a large
    denominator. ``dynamic=True`` is the paper's Dynamic Inverted Softmax: the normalised
    scores are used only for queries whose raw top-1 is in the *activation set* (gallery rows
    that are the top-1 of at least one bank query); other queries keep :math:`\beta\cos`.

    When it helps: text→image (or image→text) retrieval with hubs, without access to the test
    queries; mixed-modality search, where every text in the corpus is close to the text bank.

    Parameters
    ----------
    beta : float, default 20.0
        Inverse temperature β of the softmax (> 0).
    dynamic : bool, default False
        Dynamic Inverted Softmax instead of the plain inverted softmax.

    References
    ----------
    Bogolin, Croitoru, Jin, Liu, Albanie, "Cross Modal Retrieval with Querybank
    Normalisation", CVPR 2022, §3 (QB-Norm; inverted softmax after Smith et al., ICLR 2017;
    Dynamic Inverted Softmax, Eq. 4).

    Examples
    --------
    >>> m = QBNorm(beta=1.0).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]])
    >>> s = m.similarity([[0.6, 0.8]], [[1.0, 0.0], [0.0, 1.0]])  # bank likes image 0: it drops
    >>> np.round(s, 4)  # 0.6 - log(2e), 0.8 - log 2
    array([[-1.0931,  0.1069]])
    """

    paper = "Bogolin et al., CVPR 2022, §3 (QB-Norm)"

    def __init__(self, beta: float = 20.0, dynamic: bool = False) -> None:
        self.beta = beta
        self.dynamic = dynamic

    def _check_params(self, where: str) -> None:
        check_real(self.beta, "beta", where, low=0.0, low_open=True)
        check_bool(self.dynamic, "dynamic", where)

    def _log_z(self, bank: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return _logsumexp_rows(bank @ rows.T, float(self.beta))

    def _similarity(self, q: np.ndarray, g: np.ndarray, query_is_text: bool, is_text: np.ndarray) -> np.ndarray:
        beta = float(self.beta)
        raw = beta * (q @ g.T)
        s = raw - self._per_gallery(g, is_text, self._log_z, query_side=True, query_is_text=query_is_text)[None, :]
        if self.dynamic:
            use = _dynamic_mask(q, g, self._bank(query_is_text))
            s = np.where(use[:, None], s, raw)
        return s


@register_mitigation("db-norm")
class DBNorm(QBNorm):
    r"""Dual-bank normalisation: the inverted softmax over a query bank *and* a gallery bank.

    .. math::

        s(q, g) = \log\Big[\mathrm{IS}_{B_q}^{\beta}(q, g)\cdot \mathrm{IS}_{B_g}^{\beta_g}(q, g)^{\lambda}\Big]
                = (\beta + \lambda\beta_g)\cos(q, g) - \log\sum_{b \in B_q} e^{\beta\cos(b, g)}
                  - \lambda \log\sum_{b \in B_g} e^{\beta_g\cos(b, g)}

    :math:`B_q`: the query bank (train rows of the query's modality); :math:`B_g`: the gallery
    bank (train rows of g's own modality). Wang et al. show that hubs are close to both the
    queries *and* the other gallery items, so a query bank alone under-estimates a row's
    hubness. Our reading of their dual inverted softmax: the product of the two inverted
    softmaxes (:math:`\mathrm{IS}_B^\beta(q, g) = e^{\beta\cos(q, g)} / \sum_{b\in B}
    e^{\beta\cos(b, g)}`), the gallery-bank one raised to ``gallery_weight`` λ (λ = 0 gives
    ``qb-norm``) at inverse temperature ``beta_gallery`` (default: ``beta``).
    ``dynamic=True`` applies it only to queries whose raw top-1 is in the query bank's
    activation set, as in QB-Norm's DIS (their dual DIS).

    When it helps: as ``qb-norm``, when the query bank is small or distributed differently
    from the gallery (the gallery bank sees the gallery's own density).

    Parameters
    ----------
    beta : float, default 20.0
        Inverse temperature of the query-bank softmax (> 0).
    dynamic : bool, default False
        Dynamic (activation-set) variant.
    beta_gallery : float, optional
        Inverse temperature of the gallery-bank softmax (> 0; default ``beta``).
    gallery_weight : float, default 1.0
        λ ≥ 0, the weight of the gallery-bank penalty.

    References
    ----------
    Wang, Jian, Xue, "Balance Act: Mitigating Hubness in Cross-Modal Retrieval with Query and
    Gallery Banks", EMNLP 2023, §3 (DBNorm, dual inverted softmax); Bogolin et al., CVPR 2022.

    Examples
    --------
    >>> m = DBNorm(beta=1.0, gallery_weight=0.0).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]])
    >>> np.round(m.similarity([[0.6, 0.8]], [[1.0, 0.0], [0.0, 1.0]]), 4)  # lambda = 0: qb-norm
    array([[-1.0931,  0.1069]])
    """

    paper = "Wang, Jian, Xue, EMNLP 2023, §3 (DBNorm)"

    def __init__(
        self, beta: float = 20.0, dynamic: bool = False, beta_gallery: float | None = None,
        gallery_weight: float = 1.0,
    ) -> None:
        self.beta = beta
        self.dynamic = dynamic
        self.beta_gallery = beta_gallery
        self.gallery_weight = gallery_weight

    def _check_params(self, where: str) -> None:
        super()._check_params(where)
        if self.beta_gallery is not None:
            check_real(self.beta_gallery, "beta_gallery", where, low=0.0, low_open=True)
        check_real(self.gallery_weight, "gallery_weight", where, low=0.0)

    def _similarity(self, q: np.ndarray, g: np.ndarray, query_is_text: bool, is_text: np.ndarray) -> np.ndarray:
        beta = float(self.beta)
        bg = beta if self.beta_gallery is None else float(self.beta_gallery)
        cos = q @ g.T
        raw = (beta + float(self.gallery_weight) * bg) * cos
        pen_q = self._per_gallery(g, is_text, self._log_z, query_side=True, query_is_text=query_is_text)

        def log_zg(bank: np.ndarray, rows: np.ndarray) -> np.ndarray:
            return _logsumexp_rows(bank @ rows.T, bg)

        pen_g = self._per_gallery(g, is_text, log_zg, query_side=False, query_is_text=query_is_text)
        s = raw - pen_q[None, :] - float(self.gallery_weight) * pen_g[None, :]
        if self.dynamic:
            use = _dynamic_mask(q, g, self._bank(query_is_text))
            s = np.where(use[:, None], s, raw)
        return s
