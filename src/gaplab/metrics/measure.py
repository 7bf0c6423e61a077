"""``measure``: every gap metric of the five papers in one call (what ``gaplab measure`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_pair
from .functional import (
    dimension_gap,
    linear_separability,
    logit_entropy,
    retrieval_recall,
    uniformity,
)
from .suite import MetricSuite

__all__ = ["measure", "MEASURE_KEYS"]

#: keys of :func:`measure`'s result, in display order, with a one-line meaning each
MEASURE_KEYS: dict[str, str] = {
    "n": "number of pairs (captions)",
    "dim": "embedding dimension",
    "l2m": "distance between modality means (the gap; 0 = same centre)",
    "l2i": "mean distance between matched pairs",
    "rmg": "relative modality gap: pair distance relative to within-modality spread",
    "mean_cos_image": "mean cosine between images (cone effect; 0 = isotropic)",
    "mean_cos_text": "mean cosine between texts (cone effect)",
    "mean_cos_paired": "mean cosine of matched pairs",
    "mean_cos_cross": "mean cosine of unmatched image-text pairs",
    "alignment": "mean squared distance of matched pairs (lower = aligned)",
    "uniformity_image": "log mean Gaussian potential of images (lower = uniform)",
    "uniformity_text": "log mean Gaussian potential of texts (lower = uniform)",
    "linear_separability": "held-out accuracy telling image from text (0.5 = no gap)",
    "logit_entropy_i2t": "entropy of image->text softmax at the given temperature (nats)",
    "logit_entropy_t2i": "entropy of text->image softmax (nats)",
    "i2t_r1": "image->text recall@1",
    "i2t_r5": "image->text recall@5",
    "i2t_r10": "image->text recall@10",
    "t2i_r1": "text->image recall@1",
    "t2i_r5": "text->image recall@5",
    "t2i_r10": "text->image recall@10",
    "top_dims": "dimensions with the largest mean difference",
}


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
    O(N²) (blockwise, exact); linear separability fits a logistic regression (seeded).
    ``include_pairwise=False`` skips the O(N²) and fitted metrics.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = measure(rng.normal(size=(20, 4)) + 2, rng.normal(size=(20, 4)) - 2, include_pairwise=False)
    >>> r["l2m"] > 1
    True
    """
    xa, ya, idx = check_pair(x, y, where="measure", image_index=image_index)
    out = MetricSuite().update(xa, ya, image_index=idx).compute()
    gap = out.pop("gap_vector")
    order = np.argsort(-np.abs(gap), kind="stable")[:top_k]
    out["top_dims"] = [{"dim": int(j), "diff": float(gap[j])} for j in order]
    if include_pairwise:
        out["uniformity_image"] = uniformity(xa)
        out["uniformity_text"] = uniformity(ya)
        out["linear_separability"] = linear_separability(xa, ya, image_index=idx, seed=seed)
        ent = logit_entropy(xa, ya, temperature=temperature, image_index=idx)
        out["logit_entropy_i2t"], out["logit_entropy_t2i"] = ent["i2t"], ent["t2i"]
        out.update(retrieval_recall(xa, ya, image_index=idx, ks=(1, 5, 10)))
        dg = dimension_gap(xa, ya, image_index=idx, top_k=top_k, seed=seed)
        out["top_dims_share"] = dg.share_top
        out["best_pair_dims"] = list(dg.best_pair)
        out["best_pair_accuracy"] = dg.best_pair_accuracy
    out["temperature"] = temperature
    out["seed"] = seed
    ordered = [*MEASURE_KEYS, *(k for k in out if k not in MEASURE_KEYS)]
    return {k: out[k] for k in ordered if k in out}
