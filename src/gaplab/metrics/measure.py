"""``measure``: every gap metric of the five papers in one call (what ``gaplab measure`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, normalize_rows
from .catalogue import MEASURE_KEYS
from .functional._stats import PairStats, accumulate
from .functional.diagnostics import collapse_warnings
from .functional.dimensions import _dimension_gap
from .functional.entropy import _logit_entropy
from .functional.knn import _hubness, _mutual_knn
from .functional.retrieval import _recall_at, _retrieval_ranks
from .functional.separability import _linear_separability, _modality_split
from .functional.structure import SecondMoments
from .functional.uniformity import _uniformity
from .suite import MetricSuite

__all__ = ["measure", "pairwise_metrics", "MEASURE_KEYS", "KNN_K"]

#: neighbours per query of mutual_knn and hubness in :func:`measure` (Huh et al. 2024 use 10)
KNN_K = 10


def measure(
    x: Any,
    y: Any,
    *,
    image_index: Any = None,
    temperature: float = 0.01,
    seed: int = 0,
    top_k: int = 10,
    include_pairwise: bool = True,
) -> dict[str, Any]:
    """Every gap metric on paired embeddings, as a JSON-ready dict (keys: :data:`MEASURE_KEYS`).

    The O(N·d) metrics are exact and streamed; uniformity, retrieval and logit entropy are
    O(N²) (blockwise, float64, exact); linear separability fits a logistic regression
    (seeded). ``include_pairwise=False`` skips the O(N²) and fitted metrics. The input is
    validated once (shapes here, values during the one float64 pass that takes the sums),
    normalised once, and every metric runs on that through its private kernel. A modality whose
    rows are (nearly) all identical adds ``warnings``
    (:func:`~gaplab.metrics.collapse_warnings`): e.g. an empty tokenizer makes every caption
    embed the same.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = measure(rng.normal(size=(20, 4)) + 2, rng.normal(size=(20, 4)) - 2, include_pairwise=False)
    >>> r["l2m"] > 1
    True
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(f"measure: temperature must be a positive finite number, got {temperature}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"measure: top_k must be a positive integer, got {top_k!r}")
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
    warnings = collapse_warnings(xa, ya)
    if warnings:  # a collapsed modality: the numbers are right, the embeddings probably are not
        out["warnings"] = warnings
    ordered = [*MEASURE_KEYS, *(k for k in out if k not in MEASURE_KEYS)]
    return {k: out[k] for k in ordered if k in out}


def pairwise_metrics(
    xn: np.ndarray, yn: np.ndarray, idx: np.ndarray | None, gap: np.ndarray, *, temperature: float, seed: int,
    top_k: int,
) -> dict[str, Any]:
    """The O(N²), O(N·d²) and fitted metrics of :func:`measure` on validated, normalised rows.

    ``gap`` is the gap vector (from the exact sums, which may cover more rows than ``xn``:
    the sharded engine passes its sample here). Shared by :func:`measure` and
    :func:`gaplab.scale.measure_shards`, so both report the same keys the same way.
    """
    out: dict[str, Any] = {
        "uniformity_image": _uniformity(xn, 2.0, None),
        "uniformity_text": _uniformity(yn, 2.0, None),
    }
    split = _modality_split(xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=50_000,
                            where="measure (linear_separability)")
    out["linear_separability"] = _linear_separability(split)
    ent = _logit_entropy(xn, yn, temperature, None)
    out["logit_entropy_i2t"], out["logit_entropy_t2i"] = ent["i2t"], ent["t2i"]
    out.update(_recall_at(_retrieval_ranks(xn, yn, idx, None), (1, 5, 10)))
    mom = SecondMoments(dim=xn.shape[1]).update(xn, yn, idx)
    structure = dict(cka=mom.cka(), procrustes_distance=mom.procrustes_distance(),
                     frechet_distance=mom.frechet(), frechet_distance_centered=mom.frechet_centered(),
                     erank_image=mom.effective_rank("x"), erank_text=mom.effective_rank("y"))
    if mom.n_pairs >= 4:
        structure["cka_debiased"] = mom.cka_debiased()
    # a modality whose centred rows are all zero (e.g. d = 1, one sign) has no CKA / Procrustes:
    # leave the key out and say so, never a silent NaN
    undefined = sorted(k for k, v in structure.items() if not np.isfinite(v))
    out.update({k: v for k, v in structure.items() if k not in undefined})
    if undefined:
        out["undefined_metrics"] = undefined
    if idx is None and xn.shape[0] > KNN_K:  # one-to-one only: neighbour sets need one row per item
        out["mutual_knn"] = _mutual_knn(xn, yn, KNN_K, None)
        out["mutual_knn_chance"] = KNN_K / (xn.shape[0] - 1)
    if min(xn.shape[0], yn.shape[0]) >= KNN_K:
        out.update(_hubness(xn, yn, KNN_K, None))
    dsplit = split if xn.shape[0] <= 20_000 else _modality_split(
        xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=20_000, where="measure (dimension_gap)")
    dg = _dimension_gap(gap, dsplit if gap.size >= 2 else None, top_k=top_k, n_candidates=8)
    out["top_dims_share"] = dg.share_top
    if gap.size >= 2:  # a best pair of dimensions needs two dimensions
        out["best_pair_dims"] = list(dg.best_pair)
        out["best_pair_accuracy"] = dg.best_pair_accuracy
    return out
