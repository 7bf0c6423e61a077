"""``measure``: every gap metric of the five papers in one call (what ``gaplab measure`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, normalize_rows
from .catalogue import MEASURE_KEYS
from .functional._stats import PairStats, accumulate
from .functional.diagnostics import input_warnings
from .functional.dimensions import _dimension_gap
from .functional.retrieval import _recall_at
from .functional.separability import _linear_separability, _modality_split
from .functional.structure import SecondMoments
from .intervals import DEFAULT_MAX_PAIRS, DEFAULT_RESAMPLES, bootstrap_measure, chance_levels
from .reading import reading
from .suite import MetricSuite

__all__ = ["measure", "pairwise_metrics", "MEASURE_KEYS", "KNN_K"]

#: neighbours per query of mutual_knn and hubness in :func:`measure` (Huh et al. 2024 use 10)
KNN_K = 10
#: input values (both modalities) up to which the fitted metrics run beside the O(N²) passes
#: (their float64 copies, up to 8 bytes a value, then share the memory peak of the passes)
BESIDE_MAX_ELEMENTS = 1 << 25


def measure(
    x: Any,
    y: Any,
    *,
    image_index: Any = None,
    temperature: float = 0.01,
    seed: int = 0,
    top_k: int = 10,
    include_pairwise: bool = True,
    ci: int | bool | None = None,
    ci_max_pairs: int = DEFAULT_MAX_PAIRS,
) -> dict[str, Any]:
    """Every gap metric on paired embeddings, as a JSON-ready dict (keys: :data:`MEASURE_KEYS`).

    The O(N·d) metrics are exact and streamed; uniformity, retrieval and logit entropy are
    O(N²) (blockwise, float64, exact); linear separability fits a logistic regression
    (seeded). ``include_pairwise=False`` skips the O(N²) and fitted metrics. The input is
    validated once (shapes here, values during the one float64 pass that takes the sums),
    normalised once, and every metric runs on that through its private kernel.

    Beside the metrics (:data:`~gaplab.metrics.catalogue.RESULT_KEYS`):

    * ``chance``: the analytic chance level of each metric that has one
      (:func:`~gaplab.metrics.chance_levels`: separability 0.5, R@K ≈ K/N, mutual kNN k/(N − 1)).
    * ``warnings`` (only when there are any): :func:`~gaplab.metrics.input_warnings` — a
      collapsed modality (e.g. an empty tokenizer makes every caption embed the same),
      duplicate rows, wildly varying norms, float16 input, too few pairs.
    * ``reading``: plain-English sentences from :func:`~gaplab.metrics.reading`.
    * With ``ci=B`` (e.g. 200): ``ci95`` = {key: [lo, hi]}, 95 % percentile bootstrap intervals
      from B seeded resamples (seed ``seed``) of the *pairs* — with ``image_index``, of the
      *images*, each drawn image bringing all its captions; ``ci`` says how; ``null`` holds
      permutation nulls of mutual kNN (texts re-paired) and linear separability (test labels
      permuted). The O(N·d) metrics are resampled exactly over all pairs (weighted sufficient
      statistics, O(N·d) per resample); the O(N²) and fitted ones on a seeded subsample of at
      most ``ci_max_pairs`` pairs (images), shifted to the full value when that is smaller
      than the data; the structure and hubness keys' intervals are moved onto the value
      (``ci["recentred"]``); ``top_dims_share`` is exact over all pairs, ``best_pair_accuracy``
      conditional on the chosen pair (see :func:`~gaplab.metrics.bootstrap_measure`).
      ``ci=None`` (default) costs nothing.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = measure(rng.normal(size=(60, 4)) + 2, rng.normal(size=(60, 4)) - 2, include_pairwise=False, ci=50)
    >>> r["l2m"] > 1, r["ci95"]["l2m"][0] <= r["l2m"] <= r["ci95"]["l2m"][1], r["ci"]["resamples"]
    (True, True, 50)
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(f"measure: temperature must be a positive finite number, got {temperature}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"measure: top_k must be a positive integer, got {top_k!r}")
    if not (ci is None or isinstance(ci, bool)) and (not isinstance(ci, (int, np.integer)) or ci < 0 or ci == 1):
        raise InputError(f"measure: ci must be a number of resamples >= 2 (or 0/None for none), got {ci!r}")
    xa, ya, idx = check_pair(x, y, where="measure", image_index=image_index, check_values=False)
    stats = accumulate(PairStats(dim=xa.shape[1]), xa, ya, idx, where="measure")  # validates values
    out = MetricSuite.from_stats(stats).compute()
    gap = out.pop("gap_vector")
    order = np.argsort(-np.abs(gap), kind="stable")[:top_k]
    out["top_dims"] = [{"dim": int(j), "diff": float(gap[j])} for j in order]
    if include_pairwise:
        xn = normalize_rows(np.asarray(xa, dtype=np.promote_types(xa.dtype, np.float32)))
        yn = normalize_rows(np.asarray(ya, dtype=np.promote_types(ya.dtype, np.float32)))
        out.update(pairwise_metrics(xn, yn, idx, gap, temperature=temperature, seed=seed, top_k=top_k))
    out["temperature"] = temperature
    out["seed"] = seed
    out["chance"] = {k: v for k, v in chance_levels(xa.shape[0], ya.shape[0], idx, knn_k=KNN_K).items() if k in out}
    if ci:  # True: the default number of resamples
        out.update(bootstrap_measure(xa, ya, idx, out, resamples=DEFAULT_RESAMPLES if ci is True else int(ci),
                                     seed=seed, max_pairs=ci_max_pairs, temperature=temperature, knn_k=KNN_K, top_k=top_k,
                                     pairwise=include_pairwise))
    # the input as given: validation upcasts float16, whose precision is what one check is about
    warnings = input_warnings(x, y, image_index=idx, temperature=temperature, pairwise=include_pairwise)
    if warnings:  # e.g. a collapsed modality: the numbers are right, the embeddings probably are not
        out["warnings"] = warnings
    out["reading"] = reading(out)
    ordered = [*MEASURE_KEYS, *(k for k in out if k not in MEASURE_KEYS)]
    return {k: out[k] for k in ordered if k in out}


def pairwise_metrics(
    xn: np.ndarray, yn: np.ndarray, idx: np.ndarray | None, gap: np.ndarray, *, temperature: float, seed: int,
    top_k: int,
) -> dict[str, Any]:
    """The O(N²), O(N·d²) and fitted metrics of :func:`measure` on validated, normalised rows.

    ``gap`` is the gap vector (from the exact sums, which may cover more rows than ``xn``:
    the sharded engine passes its sample here). Shared by :func:`measure` and
    :func:`gaplab.scale.measure_shards`, so both report the same keys the same way. The
    O(N²) metrics take one blockwise pass over each of X·Xᵀ, Y·Yᵀ and X·Yᵀ
    (:mod:`~gaplab.metrics.functional._onepass`). Up to :data:`BESIDE_MAX_ELEMENTS` input
    values, one more thread meanwhile takes the fitted and O(N·d²) metrics
    (:func:`_fitted_metrics`), using the core the passes leave idle between products; above
    it they run after the passes, so their float64 copies do not add to the passes' memory.
    The two share no state: the numbers are the same either way.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .functional._onepass import cross_pass, self_pass
    from .functional.knn import _hubness_from, _shared_neighbours

    knn = idx is None and xn.shape[0] > KNN_K  # one-to-one only: neighbour sets need one row per item
    hub = min(xn.shape[0], yn.shape[0]) >= KNN_K
    with ThreadPoolExecutor(1, "gaplab-measure") as side:
        fitted = (side.submit(_fitted_metrics, xn, yn, idx, gap, seed=seed, top_k=top_k)
                  if xn.size + yn.size <= BESIDE_MAX_ELEMENTS else None)
        sx = self_pass(xn, t=2.0, k=KNN_K if knn else 0)
        sy = self_pass(yn, t=2.0, k=KNN_K if knn else 0)
        xy = cross_pass(xn, yn, idx, temperature=temperature, ranks=True, k=KNN_K if hub else 0)
        fit = fitted.result() if fitted is not None else _fitted_metrics(xn, yn, idx, gap, seed=seed, top_k=top_k)
    out: dict[str, Any] = {"uniformity_image": sx.uniformity, "uniformity_text": sy.uniformity}
    out["linear_separability"] = fit.pop("linear_separability")
    out["logit_entropy_i2t"], out["logit_entropy_t2i"] = xy.entropy_i2t, xy.entropy_t2i
    out.update(_recall_at((xy.ranks_i2t, xy.ranks_t2i), (1, 5, 10)))
    out.update(fit.pop("structure"))
    if knn:
        out["mutual_knn"] = _shared_neighbours(sx.knn, sy.knn)
        out["mutual_knn_chance"] = KNN_K / (xn.shape[0] - 1)
    if hub:
        out.update(_hubness_from(xy.knn_t2i, xy.knn_i2t, xn.shape[0], yn.shape[0]))
    out.update(fit)
    return out


def _fitted_metrics(xn: np.ndarray, yn: np.ndarray, idx: np.ndarray | None, gap: np.ndarray, *, seed: int,
                    top_k: int) -> dict[str, Any]:
    """Linear separability, the second-moment (structure) metrics and the dimension gap of :func:`pairwise_metrics`.

    Returns ``linear_separability``, ``structure`` (the structure keys, plus
    ``undefined_metrics`` when some are), ``top_dims_share`` and, for d ≥ 2,
    ``best_pair_dims`` / ``best_pair_accuracy``.
    """
    split = _modality_split(xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=50_000,
                            where="measure (linear_separability)")
    out: dict[str, Any] = {"linear_separability": _linear_separability(split)}
    mom = SecondMoments(dim=xn.shape[1]).update(xn, yn, idx)
    structure = mom.values()
    if mom.n_pairs < 4:  # the unbiased HSIC needs 4 pairs: no key rather than NaN
        del structure["cka_debiased"]
    # a modality whose centred rows are all zero (e.g. d = 1, one sign) has no CKA / Procrustes:
    # leave the key out and say so, never a silent NaN
    undefined = sorted(k for k, v in structure.items() if not np.isfinite(v))
    out["structure"] = {k: v for k, v in structure.items() if k not in undefined}
    if undefined:
        out["structure"]["undefined_metrics"] = undefined
    dsplit = split if xn.shape[0] <= 20_000 else _modality_split(
        xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=20_000, where="measure (dimension_gap)")
    dg = _dimension_gap(gap, dsplit if gap.size >= 2 else None, top_k=top_k, n_candidates=8)
    out["top_dims_share"] = dg.share_top
    if gap.size >= 2:  # a best pair of dimensions needs two dimensions
        out["best_pair_dims"] = list(dg.best_pair)
        out["best_pair_accuracy"] = dg.best_pair_accuracy
    return out
