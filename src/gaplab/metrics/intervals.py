"""Bootstrap intervals, permutation nulls and chance levels of :func:`gaplab.measure`'s metrics.

Three pieces, all seeded (same seed, same numbers):

* :func:`bootstrap_measure`: a percentile bootstrap over *pairs* (with ``image_index``: over
  images, each drawn image bringing all its captions) for every scalar metric it covers.
  A resample is a vector of counts ``w`` (``np.bincount`` of the drawn indices), so a
  resample of the O(N·d) metrics is a weighted sum of the per-row sufficient statistics of
  :class:`~gaplab.metrics.PairStats` — exactly what the metrics give on the resampled rows,
  at O(N·d) per resample without copying them. The O(N²), O(N·d²) and fitted metrics are
  resampled on a seeded, capped subsample: per-query contributions, weighted d×d moments
  (CKA, Procrustes, Fréchet, effective rank) and weighted k-occurrence counts (hubness).
* :func:`permutation_test`: a permutation p-value and null range for any paired statistic
  (the pairing of ``b`` is shuffled), e.g. a Kendall-τ between two orderings.
* :func:`chance_levels`: the analytic chance level of each metric that has one.

The draws follow :func:`gaplab.runs.bootstrap_interval` (``rng.integers(0, n, n)`` per
resample, 2.5 and 97.5 percentiles), so for a per-pair mean the two agree to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import InputError
from .._split import seeded_split
from .._threads import blas_threads
from .._validation import normalize_rows, to_numpy
from .functional._onepass import mean_row_entropy, top_k_pass
from .functional._stats import PairStats
from .functional.dimensions import top_share
from .functional.knn import _k_occurrence_stats
from .functional.retrieval import _retrieval_ranks
from .functional.separability import _modality_split
from .functional.structure import SecondMoments

__all__ = [
    "bootstrap_measure", "permutation_test", "chance_levels", "resample_counts", "percentile_interval",
    "DEFAULT_RESAMPLES", "DEFAULT_MAX_PAIRS", "CI_LEVEL", "RECALL_KS",
]

#: resamples of ``measure(ci=True)`` / ``gaplab measure --ci``
DEFAULT_RESAMPLES = 200
#: pairs (images with ``image_index``) the O(N²) and fitted metrics are resampled on
DEFAULT_MAX_PAIRS = 2000
#: coverage of the intervals
CI_LEVEL = 0.95
#: the K of the R@K keys of :func:`gaplab.measure`
RECALL_KS = (1, 5, 10)
#: the O(N·d) keys, exact over all pairs in every resample
EXACT_KEYS = ("l2m", "l2i", "rmg", "mean_cos_image", "mean_cos_text", "mean_cos_paired", "mean_cos_cross",
              "alignment", "residual_gap")
#: the d×d second-moment keys (:class:`~gaplab.metrics.functional.structure.SecondMoments`), resampled
#: on the subsample; their intervals are re-centred on the value (see :func:`bootstrap_measure`)
STRUCTURE_KEYS = ("cka", "cka_debiased", "procrustes_distance", "frechet_distance", "frechet_distance_centered",
                  "erank_image", "erank_text")
#: the k-occurrence keys (:func:`~gaplab.metrics.hubness`), resampled on the subsample and re-centred
HUBNESS_KEYS = ("hubness_image", "antihub_image", "hubness_text", "antihub_text")
#: keys whose percentile interval is moved so that the resamples' median sits on the value
RECENTRED_KEYS = STRUCTURE_KEYS + HUBNESS_KEYS
#: the range a moved (shifted or re-centred) subsample interval is clipped to, as it could
#: leave it (e.g. a share below 0); keys not listed are unbounded (cka_debiased, hubness, entropies)
KEY_RANGES: dict[str, tuple[float, float]] = {
    **{f"{side}_r{k}": (0.0, 1.0) for side in ("i2t", "t2i") for k in RECALL_KS},
    "linear_separability": (0.0, 1.0), "best_pair_accuracy": (0.0, 1.0), "mutual_knn": (0.0, 1.0), "cka": (0.0, 1.0), "procrustes_distance": (0.0, math.sqrt(2.0)), "frechet_distance": (0.0, math.inf),
    "frechet_distance_centered": (0.0, math.inf), "erank_image": (1.0, math.inf), "erank_text": (1.0, math.inf),
    "antihub_image": (0.0, 1.0), "antihub_text": (0.0, 1.0),
}
_ROW_BLOCK = 4096


def _check_count(value: Any, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{where}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) int32 counts: row b says how often each index is drawn in resample b.

    Resample b draws ``rng.integers(0, n, n)`` from ``np.random.default_rng(seed)``, in
    order, as :func:`gaplab.runs.bootstrap_interval` does.

    >>> resample_counts(3, 2, 0).sum(axis=1).tolist()
    [3, 3]
    """
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, n), dtype=np.int32)
    for b in range(resamples):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def percentile_interval(boots: np.ndarray, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided percentile interval over axis 0 of the resampled values ``boots``.

    >>> lo, hi = percentile_interval(np.arange(101.0))
    >>> float(lo), float(hi)
    (2.5, 97.5)
    """
    tail = round(50.0 * (1.0 - level), 12)  # 2.5, not 2.5000000000000022
    lo, hi = np.percentile(np.asarray(boots, dtype=np.float64), [tail, 100.0 - tail], axis=0)
    return lo, hi


# ---- O(N·d): weighted sufficient statistics ----------------------------------------------------
def _weighted_sums(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, d) float64 Σ_i w_bi â_i over L2-normalised rows of ``a``, blockwise in float64."""
    out = np.zeros((w.shape[0], a.shape[1]))
    for lo in range(0, a.shape[0], _ROW_BLOCK):
        block = normalize_rows(np.asarray(a[lo : lo + _ROW_BLOCK], dtype=np.float64))
        out += w[:, lo : lo + _ROW_BLOCK].astype(np.float64) @ block
    return out


def _pair_terms(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (caption): cos(x̂_π(k), ŷ_k) and ‖x̂_π(k) − ŷ_k‖², float64, blockwise."""
    n = y.shape[0]
    cos = np.empty(n)
    for lo in range(0, n, _ROW_BLOCK):
        rows = np.arange(lo, min(n, lo + _ROW_BLOCK))
        xb = normalize_rows(np.asarray(x[rows if idx is None else idx[rows]], dtype=np.float64))
        yb = normalize_rows(np.asarray(y[rows], dtype=np.float64))
        cos[rows] = np.einsum("ij,ij->i", xb, yb)
    return cos, np.maximum(2.0 - 2.0 * cos, 0.0)


def exact_bootstrap(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None, w_img: np.ndarray,
                    top_k: int | None = None) -> dict[str, np.ndarray]:
    """Each O(N·d) key of :func:`gaplab.measure` on every resample given by image counts ``w_img``.

    ``w_img`` is (B, n_images); caption k gets its image's count. Returns key → (B,) values,
    identical (to rounding) to :class:`~gaplab.metrics.MetricSuite` on the resampled rows;
    with ``top_k`` also ``top_dims_share`` (the top dimensions re-selected in each resample,
    as the statistic does).
    """
    from .suite import MetricSuite

    w_cap = w_img if idx is None else w_img[:, idx]
    cos, sq = _pair_terms(x, y, idx)
    dist = np.sqrt(sq)
    sum_x = _weighted_sums(x, w_img)
    sum_y = _weighted_sums(y, w_cap)
    if idx is None:
        sum_xpair = sum_x
    else:  # Σ_k w_k x̂_π(k) = Σ_i (w_i · captions of i) x̂_i
        sum_xpair = _weighted_sums(x, w_img * np.bincount(idx, minlength=x.shape[0])[None, :])
    wc = w_cap.astype(np.float64)
    s_cos, s_dist, s_sq = wc @ cos, wc @ dist, wc @ sq
    n_x, n_y = w_img.sum(axis=1), w_cap.sum(axis=1)
    keys = (*EXACT_KEYS, "top_dims_share") if top_k else EXACT_KEYS
    out: dict[str, list[float]] = {k: [] for k in keys}
    for b in range(w_img.shape[0]):
        st = PairStats(dim=x.shape[1], n_x=int(n_x[b]), n_y=int(n_y[b]), n_pairs=int(n_y[b]),
                       sum_x=sum_x[b], sum_y=sum_y[b], sum_xhat=sum_x[b], sum_yhat=sum_y[b],
                       sum_xpair=sum_xpair[b], sum_cos=float(s_cos[b]), sum_dist=float(s_dist[b]),
                       sum_dist_alpha=float(s_sq[b]), sum_dist_sq=float(s_sq[b]))
        res = MetricSuite.from_stats(st).compute()
        if top_k:
            res["top_dims_share"] = top_share(res["gap_vector"], top_k)
        for k in keys:
            out[k].append(res[k])
    return {k: np.asarray(v) for k, v in out.items()}


# ---- O(N²) and fitted: per-query contributions on a capped subsample ------------------------------
def _weighted_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per resample Σ w v / Σ w; NaN for a resample that drew none of these rows (dropped later)."""
    total = w.sum(axis=1).astype(np.float64)
    out = np.full(w.shape[0], np.nan)
    np.divide(w.astype(np.float64) @ values, total, out=out, where=total > 0)
    return out


def _log_mean_potential(a: np.ndarray, w: np.ndarray, t: float = 2.0) -> np.ndarray:
    r"""Uniformity of each resample as a weighted U-statistic over *distinct* rows i ≠ j.

    :math:`\log \frac{\sum_{i \ne j} w_i w_j e^{-t\lVert \hat x_i - \hat x_j\rVert^2}}{\sum_{i \ne j} w_i w_j}`:
    the two copies of a row drawn twice are not a pair (they would add e⁰ = 1, a bias of order
    1/N that swamps the interval).
    """
    g = a @ a.T
    k = np.exp(-t * np.maximum(2.0 - 2.0 * g, 0.0))
    np.fill_diagonal(k, 0.0)
    wf = w.astype(np.float64)
    pairs = wf.sum(axis=1) ** 2 - np.einsum("bi,bi->b", wf, wf)
    return np.log(np.einsum("bi,bi->b", wf @ k, wf) / pairs)


def _neighbour_overlap(nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """Per row i: |nx[i] ∩ ny[i]| (neighbour index lists, no repeats within a row)."""
    return (nx[:, :, None] == ny[:, None, :]).any(axis=2).sum(axis=1)


class _WeightedMoments:
    """The :class:`SecondMoments` of a resample of normalised rows, from its counts.

    Image i counted ``wi[i]`` times and caption k ``wc[k]`` times (with ``sidx``: caption k
    of image ``sidx[k]``, ``wc = wi[sidx]``): Σ w x̂x̂ᵀ, Σ w ŷŷᵀ, Σ w x̂_π ŷᵀ and the weighted
    sums in float64 — what ``SecondMoments().update`` gives on the resampled rows with their
    duplicates, to rounding, at O(n·d²) over the rows drawn (√w-scaled, so Σ w x̂x̂ᵀ is a
    symmetric rank-k product).

    With fewer rows than dimensions (n_x + n_y < d) the rows are first written in an
    orthonormal basis Q of their span (x̂ ↦ Qᵀx̂, d × (n_x + n_y) from a QR): an isometry, so
    every inner product, norm, Frobenius and nuclear norm and every nonzero eigenvalue of
    the moments is unchanged (the rest are zeros, which the formulas clip, drop or take the
    root of), and a resample's decompositions cost O((n_x + n_y)³) instead of O(d³). The
    values then differ from the d-dimensional ones by what d dimensions make of the extra
    zero eigenvalues (±1e-16, roots 1e-8): up to ~1e-6 relative for the effective rank at
    n ≪ d, the projected values being the closer to the rows' own singular values.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray, sidx: np.ndarray | None) -> None:
        if xs.shape[0] + ys.shape[0] < xs.shape[1]:
            basis = np.linalg.qr(np.vstack([xs, ys]).T)[0]
            xs, ys = xs @ basis, ys @ basis
        self.xs, self.ys, self.sidx = xs, ys, sidx
        if sidx is not None:  # per image: its caption count and the sum of its captions
            self.n_caps = np.bincount(sidx, minlength=xs.shape[0]).astype(np.float64)
            order = np.argsort(sidx, kind="stable")
            self.cap_sum = np.zeros_like(xs)
            has = self.n_caps > 0
            starts = np.searchsorted(sidx[order], np.flatnonzero(has))
            self.cap_sum[has] = np.add.reduceat(ys[order], starts, axis=0)

    @staticmethod
    def _scaled(a: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows drawn, their counts (float64) and those rows scaled by √count."""
        rows = np.flatnonzero(w)
        wr = w[rows].astype(np.float64)
        return rows, wr, np.sqrt(wr)[:, None] * a[rows]

    def __call__(self, wi: np.ndarray, wc: np.ndarray) -> SecondMoments:
        xs, ys, d = self.xs, self.ys, self.xs.shape[1]
        ri, wri, zx = self._scaled(xs, wi)
        xx, sum_x, n_x = zx.T @ zx, wri @ xs[ri], int(wi.sum())
        if self.sidx is None:  # the pairs are the images
            _, _, zy = self._scaled(ys, wi)
            return SecondMoments(dim=d, n_x=n_x, n_y=n_x, n_pairs=n_x, sum_x=sum_x, sum_y=wri @ ys[ri], sum_p=sum_x,
                                 xx=xx, yy=zy.T @ zy, pp=xx, py=zx.T @ zy)
        rc, wrc, zy = self._scaled(ys, wc)
        # pairs (x̂_π(k), ŷ_k) with weight wc_k: image i once per caption per draw
        rp, wrp, zp = self._scaled(xs, wi * self.n_caps)
        # Σ_k wc_k x̂_π(k) ŷ_kᵀ = Σ_i wi_i x̂_i (Σ_{k of i} ŷ_k)ᵀ
        py = (wri[:, None] * xs[ri]).T @ self.cap_sum[ri]
        n_y = int(wc.sum())
        return SecondMoments(dim=d, n_x=n_x, n_y=n_y, n_pairs=n_y, sum_x=sum_x, sum_y=wrc @ ys[rc],
                             sum_p=wrp @ xs[rp], xx=xx, yy=zy.T @ zy, pp=zp.T @ zp, py=py)


def _structure_bootstrap(xs: np.ndarray, ys: np.ndarray, sidx: np.ndarray | None, w_img: np.ndarray,
                         w_cap: np.ndarray, workers: int | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The (B,) :data:`STRUCTURE_KEYS` of each resample (rows of ``w_img`` / ``w_cap``), and the unit-weight values.

    Each resample costs O(n·d²) for its moments and O(d³) for its decompositions (an SVD,
    an eigendecomposition and three eigenvalue problems of d × d). The resamples run on
    ``workers`` threads (default: the BLAS threads allowed), each with one BLAS thread, so
    the values do not depend on the number of threads (and a busy machine's spinning BLAS
    threads cannot slow the small decompositions down).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    moments = _WeightedMoments(xs, ys, sidx)
    jobs = [*zip(w_img, w_cap, strict=True), (np.ones(xs.shape[0], np.int32), np.ones(ys.shape[0], np.int32))]
    workers = min(len(jobs), blas_threads() if workers is None else workers)
    with threadpool_limits(limits=1, user_api="blas"):
        if workers > 1:
            with ThreadPoolExecutor(workers, "gaplab-ci") as pool:
                rows = list(pool.map(lambda job: moments(*job).values(), jobs))
        else:
            rows = [moments(*job).values() for job in jobs]
    return {k: np.array([r[k] for r in rows[:-1]]) for k in STRUCTURE_KEYS}, rows[-1]


def _k_occurrence(ranked: np.ndarray, k: int, wq: np.ndarray, mg: np.ndarray) -> tuple[float, float] | None:
    """(skewness, anti-hub share) of N_k on one resample: query q drawn ``wq[q]`` times, gallery row j ``mg[j]``.

    The resampled gallery holds ``mg[j]`` copies of row j (adjacent, so ties go to the first
    copy); query q's top k walks its ``ranked`` row (most similar first) taking every copy of
    each row until k are taken; copy t of row j is counted by the queries that took at least
    t of its copies, each ``wq[q]`` times; N_k runs over all Σ mg copies. ``mg`` all ones: the
    gallery held fixed. NaN for a resample whose gallery holds fewer than k rows; None when
    ``ranked`` is too shallow for some drawn query (fewer than k copies in its row).
    """
    n_g = mg.size
    if mg.sum() < k:
        return float("nan"), float("nan")
    drawn = wq > 0
    r, w = ranked[drawn], wq[drawn].astype(np.float64)
    mult = mg[r]
    before = np.cumsum(mult, axis=1) - mult
    if ranked.shape[1] < n_g and (before[:, -1] + mult[:, -1] < k).any():
        return None
    taken = np.clip(k - before, 0, mult)  # copies of r[q, p] in q's top k
    sel = taken > 0
    rows, copies, weight = r[sel], taken[sel], np.broadcast_to(w[:, None], taken.shape)[sel]
    each = np.repeat(np.arange(rows.size), copies)  # one entry per copy taken
    t = np.arange(each.size) - np.repeat(np.cumsum(copies) - copies, copies)  # which copy: 0, 1, …
    depth = max(int(mg.max()), 1)
    counts = np.bincount(rows[each] * depth + t, weights=weight[each], minlength=n_g * depth).reshape(n_g, depth)
    return _k_occurrence_stats(counts[np.arange(depth)[None, :] < mg[:, None]])


def _k_occurrences(queries: np.ndarray, gallery: np.ndarray, k: int, w_query: np.ndarray, m_gallery: np.ndarray
                   ) -> np.ndarray:
    """(B, 2) :func:`_k_occurrence` of each resample (rows of ``w_query`` and ``m_gallery``).

    One ranked list per query for all resamples, 4k deep to start with; should a drawn query
    of some resample find fewer than k copies in it, the lists are taken again twice as deep
    (the whole gallery at most).
    """
    n_g = gallery.shape[0]
    depth = min(n_g, 4 * k)
    while True:
        ranked = top_k_pass(queries, gallery, depth, exclude_self=False)
        out = []
        for wq, mg in zip(w_query, m_gallery, strict=True):
            stats = _k_occurrence(ranked, k, wq, mg)
            if stats is None:
                break
            out.append(stats)
        else:
            return np.array(out, dtype=np.float64).reshape(-1, 2)
        depth = min(n_g, 2 * depth)


def _hubness_bootstrap(xs: np.ndarray, ys: np.ndarray, k: int, w_img: np.ndarray, w_cap: np.ndarray
                       ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The (B,) :data:`HUBNESS_KEYS` of each resample, and the unit-weight values.

    The resampled pairs are query *and* gallery: ``hubness_image``: texts (``w_cap``) query
    the images (``w_img`` copies each); ``hubness_text``: images query the texts. Unit
    weights give ``_hubness_from``'s values.
    """
    boots: dict[str, np.ndarray] = {}
    point: dict[str, float] = {}
    for side, q, g, wq, mg in (("image", ys, xs, w_cap, w_img), ("text", xs, ys, w_img, w_cap)):
        stats = _k_occurrences(q, g, k, np.vstack([wq, np.ones((1, q.shape[0]), wq.dtype)]),
                               np.vstack([mg, np.ones((1, g.shape[0]), mg.dtype)]))
        boots[f"hubness_{side}"], boots[f"antihub_{side}"] = stats[:-1, 0], stats[:-1, 1]
        point[f"hubness_{side}"], point[f"antihub_{side}"] = float(stats[-1, 0]), float(stats[-1, 1])
    return boots, point


def _subsample(n_images: int, idx: np.ndarray | None, max_pairs: int, seed: int
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Seeded images kept (sorted), their captions' remapped image index, and those captions."""
    keep = np.arange(n_images)
    if n_images > max_pairs:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(n_images, size=max_pairs, replace=False))
    if idx is None:
        return keep, None, keep
    caps = np.flatnonzero(np.isin(idx, keep))
    return keep, np.searchsorted(keep, idx[caps]), caps


def bootstrap_measure(
    x: np.ndarray,
    y: np.ndarray,
    idx: np.ndarray | None,
    values: dict[str, Any],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    temperature: float = 0.01,
    knn_k: int = 10,
    top_k: int = 10,
    pairwise: bool = True,
    structure: bool = True,
) -> dict[str, Any]:
    r"""Bootstrap intervals and permutation nulls of the scalar metrics in ``values`` (a ``measure`` dict).

    Resampling unit: a pair (one-to-one) or an image with all its captions (``idx`` given),
    drawn with replacement, ``resamples`` times, seeded by ``seed``. The interval is the 95 %
    percentile interval :math:`[\theta^*_{(2.5)}, \theta^*_{(97.5)}]`.

    * O(N·d) keys (:data:`EXACT_KEYS`): every pair, exact — a resample is the weighted sum of
      per-row statistics, O(N·d) per resample and O(B·N) memory for the counts.
    * The rest, on a seeded subsample of at most ``max_pairs`` images (pairs): retrieval R@K
      and logit entropy resample the *queries* against the fixed subsample gallery (per-query
      hits, per-query entropies); uniformity is the weighted mean over pairs of distinct rows
      (a row's copies are not paired with each other); mutual kNN resamples items with the neighbour lists held
      fixed; linear separability resamples the test images of the fitted split (the fit held
      fixed, so the interval is the test-set noise; resamples that draw no test image are
      dropped, and a key with fewer than half its resamples left gets no interval). When the subsample is smaller than the
      data, the interval is shifted by (full value − subsample value): its width is that of
      ``max_pairs`` pairs, wider (conservative) than the full data's.
    * Structure (:data:`STRUCTURE_KEYS`: ``cka``, ``cka_debiased``, ``procrustes_distance``,
      ``frechet_distance``, ``frechet_distance_centered``, ``erank_image``, ``erank_text``), on
      the same subsample and resamples: :class:`~gaplab.metrics.functional.structure.SecondMoments`'
      own formulas on the weighted float64 moments Σ w x̂x̂ᵀ, Σ w ŷŷᵀ, Σ w x̂_π ŷᵀ and sums
      (with ``idx``: images once per draw, pairs once per caption per draw) — exactly the
      metric on the resampled rows with their duplicates. That holds for ``cka_debiased`` too
      (its moment form is the estimator on unit rows, duplicates included); a duplicate is a
      pair of rows with K = L = 1 off the diagonal, which re-introduces the bias that
      estimator removes, and the re-centring below takes care of it as for the others.
      O(n·d² + d³) per resample (an SVD and four d×d symmetric eigenproblems; with fewer
      subsample rows than dimensions, the rows are written in an orthonormal basis of their
      span first, an isometry, and d becomes n_x + n_y), the resamples spread over the
      threads BLAS may use; ``structure=False`` skips them.
    * Hubness (:data:`HUBNESS_KEYS`): the resampled pairs are the queries *and* the gallery —
      a text drawn w times queries w times, an image drawn m times is m tied copies in the
      gallery (its first copy first), and N_k runs over the copies, as :func:`~gaplab.metrics.hubness`
      does on the resampled rows. Each query's ranked list is computed once (deep enough for k
      copies in every resample), so a resample costs O(n·k). Holding the gallery fixed and
      resampling only the queries (as R@K does) misses the gallery's part of the noise (at
      N = 2000, d = 64 its spread was half the spread over fresh samples; the pairs' 0.8–1.3×)
      and makes a row with N_k = 1 an anti-hub whenever its one query is not drawn (there the
      resamples' anti-hub share was 3.5× the value).
    * Re-centred (:data:`RECENTRED_KEYS`, the two groups above): these are functionals of the
      whole sample, biased at finite n (a d×d spectrum spreads by ~d/n), and a resample —
      about a third of whose rows are copies — is more biased still: at N = 2000, d = 512 the
      resamples' median sat 10–30 bootstrap SDs from the value for Procrustes, Fréchet and
      effective rank (≈ 3 for hubness), so the plain percentile interval missed the value
      altogether. Their interval is the percentile interval moved so that the resamples'
      median sits on the value, :math:`[\theta^*_{(2.5)}, \theta^*_{(97.5)}] + \hat\theta -
      \operatorname{median}\theta^*`: the sampling noise of the metric at this N around the
      value, not a bias-corrected interval for a population value. ``ci["recentred"]`` gives
      each move, median θ* − θ̂ on the subsample (the bootstrap's estimate of the bias). In
      simulations (N = 2000, d = 64 and 512) its spread was 0.8–1.4× the spread over fresh
      samples (``frechet_distance_centered``: 2–6×, conservative); for hubness with strong
      hubs (d = 8, N = 900) only 0.55–0.75×, the skewness of a heavy-tailed N_k being hard to
      bootstrap.
    * ``top_dims_share`` (the share of ‖Δ‖² in the ``top_k`` dimensions of largest |Δ_j|):
      exact over all pairs like the O(N·d) keys, from each resample's gap vector, its top
      dimensions re-selected per resample.
    * ``best_pair_accuracy``: conditional on the two dimensions chosen on all the data, like
      linear separability: their probe refitted once on the subsample's split, its test images
      resampled (re-running the search over 28 pairs per resample would cost ~0.7 s each at
      N = 20,000); so the interval leaves out the variability of the choice itself.
    * Not covered (no key in ``ci95``): the constant ``mutual_knn_chance``, and the structure
      keys with ``structure=False``.

    Nulls (``"null"``): mutual kNN under a random re-pairing of the texts (neighbour lists
    relabelled, so each permutation is O(N·k²)); linear separability under a random permutation
    of the test labels against the fixed predictions. Each gives the null mean, its 95 % range
    and a one-sided p-value (1 + #{null ≥ observed}) / (1 + P), on the subsample.

    Returns ``{"ci95": {key: [lo, hi]}, "ci": {...}, "null": {...}}``.
    """
    resamples = _check_count(resamples, "ci (resamples)", "measure", 2)
    max_pairs = _check_count(max_pairs, "ci_max_pairs", "measure", 4)
    n_img = x.shape[0]
    counts = resample_counts(n_img, resamples, seed)
    boots = exact_bootstrap(x, y, idx, counts, top_k=top_k if "top_dims_share" in values else None)
    ci95: dict[str, list[float]] = {}
    for k, v in boots.items():
        lo, hi = percentile_interval(v)
        ci95[k] = [float(lo), float(hi)]
    info: dict[str, Any] = {"method": "bootstrap", "resamples": resamples, "seed": seed,
                            "unit": "pair" if idx is None else "image with its captions",
                            "level": CI_LEVEL, "exact_keys": list(EXACT_KEYS)}
    null: dict[str, Any] = {}
    if pairwise:
        keep, sidx, caps = _subsample(n_img, idx, max_pairs, seed)
        xs = normalize_rows(np.asarray(x[keep], dtype=np.float64))
        ys = normalize_rows(np.asarray(y[caps], dtype=np.float64))
        w_img = resample_counts(keep.size, resamples, seed + 1)
        w_cap = w_img if sidx is None else w_img[:, sidx]
        sub_boots, sub_point, null = _subsample_bootstrap(
            xs, ys, sidx, w_img, w_cap, temperature=temperature, knn_k=knn_k, seed=seed, resamples=resamples,
            structure=structure, best_pair=values.get("best_pair_dims"))
        shifted = keep.size < n_img
        recentred: dict[str, float] = {}
        for k, v in sub_boots.items():
            v = v[np.isfinite(v)]  # a resample that drew no test image has no separability
            if k not in values or v.size < resamples / 2 or not math.isfinite(sub_point[k]):
                continue
            lo, hi = percentile_interval(v)
            shift = float(values[k]) - sub_point[k] if shifted else 0.0
            if k in RECENTRED_KEYS:  # the resamples' median moved onto the value
                recentred[k] = float(np.median(v)) - sub_point[k]
                shift = float(values[k]) - float(np.median(v))
            lo_k, hi_k = KEY_RANGES.get(k, (-math.inf, math.inf))
            ci95[k] = [min(max(float(lo) + shift, lo_k), hi_k), min(max(float(hi) + shift, lo_k), hi_k)]
        info["subsample_pairs"] = int(caps.size)
        info["subsample_keys"] = [k for k in sub_boots if k in values and k in ci95]
        info["shifted"] = shifted
        info["recentred"] = {k: recentred[k] for k in values if k in recentred}
    return {"ci95": {k: ci95[k] for k in values if k in ci95}, "ci": info, "null": null}


def _subsample_bootstrap(
    xs: np.ndarray, ys: np.ndarray, sidx: np.ndarray | None, w_img: np.ndarray, w_cap: np.ndarray, *,
    temperature: float, knn_k: int, seed: int, resamples: int, structure: bool = True,
    best_pair: Any = None,
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, Any]]:
    """Resampled values, point values (unit weights) and nulls of the subsample metrics.

    ``best_pair``: the two dimensions :func:`gaplab.measure` chose (``best_pair_dims``): their
    probe is refitted on the subsample's split and its test images resampled.
    """
    ones_img, ones_cap = np.ones((1, xs.shape[0]), np.int32), np.ones((1, ys.shape[0]), np.int32)
    boots: dict[str, np.ndarray] = {}
    point: dict[str, float] = {}

    def add(key: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        boots[key] = fn(w_img, w_cap)
        point[key] = float(fn(ones_img, ones_cap)[0])

    add("uniformity_image", lambda wi, wc: _log_mean_potential(xs, wi))
    add("uniformity_text", lambda wi, wc: _log_mean_potential(ys, wc))
    # per query: the entropy of one row is the mean over that one row
    ent_i = np.array([mean_row_entropy(xs[i : i + 1], ys, temperature) for i in range(xs.shape[0])])
    ent_t = np.array([mean_row_entropy(ys[i : i + 1], xs, temperature) for i in range(ys.shape[0])])
    add("logit_entropy_i2t", lambda wi, wc: _weighted_mean(ent_i, wi))
    add("logit_entropy_t2i", lambda wi, wc: _weighted_mean(ent_t, wc))
    i2t, t2i = _retrieval_ranks(xs, ys, sidx, None)
    has_caption = np.ones(xs.shape[0], bool) if sidx is None else np.bincount(sidx, minlength=xs.shape[0]) > 0
    for kk in RECALL_KS:
        hit_i, hit_t = (i2t < kk).astype(np.float64), (t2i < kk).astype(np.float64)
        add(f"i2t_r{kk}", lambda wi, wc, h=hit_i: _weighted_mean(h, wi[:, has_caption]))  # type: ignore[misc]
        add(f"t2i_r{kk}", lambda wi, wc, h=hit_t: _weighted_mean(h, wc))  # type: ignore[misc]
    if min(xs.shape[0], ys.shape[0]) >= knn_k:  # as pairwise_metrics: k candidates each way
        hub_boots, hub_point = _hubness_bootstrap(xs, ys, knn_k, w_img, w_cap)
        boots.update(hub_boots)
        point.update(hub_point)
    if structure:
        structure_boots, structure_point = _structure_bootstrap(xs, ys, sidx, w_img, w_cap)
        boots.update(structure_boots)
        point.update(structure_point)
    null: dict[str, Any] = {}
    n = xs.shape[0]
    rng = np.random.default_rng([seed, 2])
    if sidx is None and n > knn_k:
        nx = top_k_pass(xs, xs, knn_k, exclude_self=True)
        ny = top_k_pass(ys, ys, knn_k, exclude_self=True)
        overlap = _neighbour_overlap(nx, ny) / knn_k
        add("mutual_knn", lambda wi, wc: _weighted_mean(overlap, wi))
        perms = [rng.permutation(n) for _ in range(resamples)]
        # texts re-paired by π: item i's text is y_π(i), its neighbours π⁻¹(N_y(π(i)))
        nulls = np.array([_neighbour_overlap(nx, np.argsort(p)[ny[p]]).mean() / knn_k for p in perms])
        null["mutual_knn"] = _null_summary(point["mutual_knn"], nulls, "texts re-paired at random")
    split = _modality_split(xs, ys, sidx, train_fraction=0.8, seed=seed, max_pairs=None,
                            where="measure (ci of linear_separability)")
    correct, labels, pred, group = _separability_predictions(split, xs.shape[0], sidx, seed)
    if correct is not None:
        add("linear_separability", lambda wi, wc: _weighted_mean(correct, wi[:, group]))
        nulls = np.array([np.mean(pred == labels[rng.permutation(labels.size)]) for _ in range(resamples)])
        null["linear_separability"] = _null_summary(point["linear_separability"], nulls,
                                                    "test labels permuted against the fitted predictions")
    if best_pair is not None:
        pair_correct, _, _, group = _separability_predictions(split, xs.shape[0], sidx, seed, cols=list(best_pair))
        if pair_correct is not None:
            add("best_pair_accuracy", lambda wi, wc: _weighted_mean(pair_correct, wi[:, group]))
    return boots, point, null


def _separability_predictions(split: Any, n_img: int, sidx: np.ndarray | None, seed: int,
                              cols: list[int] | None = None) -> tuple[Any, Any, Any, Any]:
    """Per test row: correct?, label, prediction and the subsample image it belongs to (``cols``: those features only)."""
    from sklearn.linear_model import LogisticRegression

    (f_tr, l_tr), (f_te, l_te) = split
    if cols is not None:
        f_tr, f_te = f_tr[:, cols], f_te[:, cols]
    pred = LogisticRegression(C=1.0, max_iter=2000).fit(f_tr, l_tr).predict(f_te)
    # rebuild which image each test row belongs to: the split's test images, then their captions
    images = np.arange(n_img)
    _, te = seeded_split(images.size, 0.8, seed, where="measure (ci)", name="train_fraction")
    img = images[te]
    caps_of = np.arange(n_img) if sidx is None else sidx
    txt = np.flatnonzero(np.isin(caps_of, img))
    group = np.r_[img, caps_of[txt]]
    if group.size != l_te.size:  # split layout changed: no interval rather than a wrong one
        return None, None, None, None
    return (pred == l_te).astype(np.float64), l_te, pred, group


def _null_summary(observed: float, nulls: np.ndarray, how: str) -> dict[str, Any]:
    lo, hi = percentile_interval(nulls)
    return {"observed": observed, "mean": float(nulls.mean()), "range95": [float(lo), float(hi)],
            "p_value": float((1 + np.sum(nulls >= observed)) / (1 + nulls.size)),
            "permutations": int(nulls.size), "null": how}


# ---- permutation test ---------------------------------------------------------------------------
def permutation_test(
    stat_fn: Callable[[np.ndarray, np.ndarray], float],
    a: Any,
    b: Any,
    *,
    n_permutations: int = 1000,
    seed: int = 0,
    alternative: str = "greater",
) -> dict[str, Any]:
    r"""Permutation p-value of a paired statistic: shuffle the pairing of ``b``'s rows.

    .. math:: p = \frac{1 + \#\{\pi : T(a, b_\pi) \ge T(a, b)\}}{1 + P}

    (``alternative="greater"``; ``"less"`` counts :math:`\le`, ``"two-sided"`` compares
    :math:`|T - \bar T_\pi|`). The +1 counts the identity (Phipson & Smyth, 2010, "Permutation
    p-values should never be zero"), so p is never 0. Use it for statistics without an
    analytic null, e.g. a Kendall-τ between class-neighbour orderings of two modalities
    (Schrodi et al., ICLR 2025, Table 1): ``stat_fn=lambda a, b: kendalltau(a, b)[0]``.

    Parameters
    ----------
    stat_fn : callable (a, b) -> float
    a, b : array-like, same length along axis 0 (row i of ``a`` is paired with row i of ``b``)
    n_permutations : int, default 1000
    seed : int, default 0
    alternative : {"greater", "less", "two-sided"}

    Returns
    -------
    dict
        ``statistic``, ``p_value``, ``null_mean``, ``null_range95`` ([2.5, 97.5] percentiles),
        ``n_permutations``, ``seed``, ``alternative``.

    Examples
    --------
    >>> a = np.arange(20.0)
    >>> r = permutation_test(lambda u, v: float(np.corrcoef(u, v)[0, 1]), a, a, n_permutations=99)
    >>> r["statistic"], r["p_value"]
    (1.0, 0.01)
    """
    if not callable(stat_fn):
        raise InputError(f"permutation_test: stat_fn must be callable, got {type(stat_fn).__name__}")
    n_permutations = _check_count(n_permutations, "n_permutations", "permutation_test")
    if alternative not in ("greater", "less", "two-sided"):
        raise InputError(f"permutation_test: alternative must be 'greater', 'less' or 'two-sided', got {alternative!r}")
    aa, bb = to_numpy(a), to_numpy(b)
    if aa.ndim == 0 or bb.ndim == 0 or aa.shape[0] != bb.shape[0]:
        raise InputError(f"permutation_test: a and b need the same number of rows, got a {aa.shape} and b {bb.shape}")
    if aa.shape[0] < 2:
        raise InputError(f"permutation_test: needs at least 2 rows, got {aa.shape[0]}")
    observed = float(stat_fn(aa, bb))
    if not math.isfinite(observed):
        raise InputError(f"permutation_test: stat_fn returned {observed} on the data")
    rng = np.random.default_rng(seed)
    nulls = np.array([float(stat_fn(aa, bb[rng.permutation(bb.shape[0])])) for _ in range(n_permutations)])
    if alternative == "greater":
        extreme = nulls >= observed
    elif alternative == "less":
        extreme = nulls <= observed
    else:
        centre = nulls.mean()
        extreme = np.abs(nulls - centre) >= abs(observed - centre)
    lo, hi = percentile_interval(nulls)
    return {"statistic": observed, "p_value": float((1 + extreme.sum()) / (1 + n_permutations)),
            "null_mean": float(nulls.mean()), "null_range95": [float(lo), float(hi)],
            "n_permutations": n_permutations, "seed": seed, "alternative": alternative}


# ---- chance levels ------------------------------------------------------------------------------
def _p_any_in_top(n: int, c: int, k: int) -> float:
    """P(at least one of c marked items among k drawn without replacement from n): 1 − C(n−c, k)/C(n, k)."""
    if k >= n or c >= n:
        return 1.0
    miss = 1.0
    for j in range(k):
        miss *= max(n - c - j, 0) / (n - j)
    return 1.0 - miss


def chance_levels(n_images: int, n_texts: int, image_index: np.ndarray | None = None, *,
                  knn_k: int = 10, ks: tuple[int, ...] = RECALL_KS) -> dict[str, float]:
    r"""The chance level of each :func:`gaplab.measure` key that has an analytic one.

    * ``linear_separability`` and ``best_pair_accuracy``: the larger modality's share of the
      rows, :math:`\max(n_x, n_y)/(n_x + n_y)` — 0.5 one-to-one (a classifier that ignores its
      input can do no better).
    * ``t2i_rK``: :math:`K / n_x` (one right image among :math:`n_x`).
    * ``i2t_rK``: one-to-one :math:`K/N`; with ``image_index``, image i with :math:`c_i`
      captions among :math:`n_y` is a hit at chance with probability
      :math:`1 - \binom{n_y - c_i}{K} / \binom{n_y}{K}`, averaged over the images with captions.
    * ``mutual_knn`` (one-to-one): :math:`k/(N-1)`.

    Examples
    --------
    >>> c = chance_levels(100, 100)
    >>> c["linear_separability"], c["i2t_r1"], round(c["mutual_knn"], 4)
    (0.5, 0.01, 0.101)
    >>> round(chance_levels(2, 4, np.array([0, 0, 0, 1]), ks=(1,))["i2t_r1"], 3)  # (3/4 + 1/4) / 2
    0.5
    """
    out: dict[str, float] = {}
    share = max(n_images, n_texts) / (n_images + n_texts)
    out["linear_separability"] = share
    out["best_pair_accuracy"] = share
    for k in ks:
        if image_index is None:
            out[f"i2t_r{k}"] = min(1.0, k / n_texts)
        else:
            caps = np.bincount(image_index, minlength=n_images)
            caps = caps[caps > 0]
            vals, mult = np.unique(caps, return_counts=True)
            hits = sum(m * _p_any_in_top(n_texts, int(c), k) for c, m in zip(vals, mult, strict=True))
            out[f"i2t_r{k}"] = float(hits / caps.size)
        out[f"t2i_r{k}"] = min(1.0, k / n_images)
    if image_index is None and n_images > knn_k:
        out["mutual_knn"] = knn_k / (n_images - 1)
    return out
