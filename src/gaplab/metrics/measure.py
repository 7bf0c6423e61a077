"""``measure``: every gap metric of the five papers in one call (what ``gaplab measure`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, normalize_rows
from .catalogue import MEASURE_KEYS
from .functional._stats import PairStats, accumulate
from .functional.dimensions import _dimension_gap
from .functional.entropy import _logit_entropy
from .functional.retrieval import _recall_at, _retrieval_ranks
from .functional.separability import _linear_separability, _modality_split
from .functional.uniformity import _uniformity
from .suite import MetricSuite

__all__ = ["measure", "MEASURE_KEYS"]


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
    normalised once, and every metric runs on that through its private kernel.

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
        out["uniformity_image"] = _uniformity(xn, 2.0, None)
        out["uniformity_text"] = _uniformity(yn, 2.0, None)
        split = _modality_split(xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=50_000,
                                where="measure (linear_separability)")
        out["linear_separability"] = _linear_separability(split)
        ent = _logit_entropy(xn, yn, temperature, None)
        out["logit_entropy_i2t"], out["logit_entropy_t2i"] = ent["i2t"], ent["t2i"]
        out.update(_recall_at(_retrieval_ranks(xn, yn, idx, None), (1, 5, 10)))
        dsplit = split if xn.shape[0] <= 20_000 else _modality_split(
            xn, yn, idx, train_fraction=0.8, seed=seed, max_pairs=20_000, where="measure (dimension_gap)")
        dg = _dimension_gap(gap, dsplit if gap.size >= 2 else None, top_k=top_k, n_candidates=8)
        out["top_dims_share"] = dg.share_top
        out["best_pair_dims"] = list(dg.best_pair)
        out["best_pair_accuracy"] = dg.best_pair_accuracy
    out["temperature"] = temperature
    out["seed"] = seed
    ordered = [*MEASURE_KEYS, *(k for k in out if k not in MEASURE_KEYS)]
    return {k: out[k] for k in ordered if k in out}
