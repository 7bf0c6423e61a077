"""A reading of a :func:`gaplab.measure` result: what the numbers say and what to try, in plain English.

:func:`reading` applies a few rules, each a threshold stated below as a constant, and returns
one sentence per rule that fires, most important first. The rules read keys of the result
only (a key left out, e.g. by ``--fast``, silences its rule), so a reading can be re-derived
from a saved JSON result. The thresholds are rules of thumb drawn from the five papers'
numbers (CLIP on COCO: l2m ≈ 0.8, separability ≈ 1.0), not tests: the sentences say "may".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "reading", "GAP_LARGE", "GAP_SMALL", "CENTROID_SHARE_HIGH", "CENTROID_SHARE_LOW", "HUBNESS_HIGH",
    "SEPARABILITY_NEAR_CHANCE", "SEPARABILITY_HIGH", "CONE_HIGH", "RETRIEVAL_NEAR_CHANCE",
]

#: l2m (distance between the modality means, unit rows) above this is a large gap ...
GAP_LARGE = 0.3
#: ... and below this a small one
GAP_SMALL = 0.1
#: share l2m² / alignment of the mean pair distance that the centroid gap carries: above → centering helps
CENTROID_SHARE_HIGH = 0.5
#: below this share, centering removes little of the pair distance
CENTROID_SHARE_LOW = 0.2
#: skewness of the k-occurrence above this: hubs dominate retrieval
HUBNESS_HIGH = 1.0
#: linear separability within this of its chance level: the modalities overlap
SEPARABILITY_NEAR_CHANCE = 0.05
#: linear separability above this: one direction tells the modalities apart
SEPARABILITY_HIGH = 0.95
#: mean cosine within a modality above this: the cone effect (rows crowd one direction)
CONE_HIGH = 0.5
#: R@1 below this many times its chance level: retrieval is near chance
RETRIEVAL_NEAR_CHANCE = 2.0


def _num(result: Mapping[str, Any], key: str) -> float | None:
    v = result.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def reading(result: Mapping[str, Any]) -> list[str]:
    """Plain-English sentences on a :func:`gaplab.measure` result (possibly none).

    Rules, in this order (constants of this module):

    1. ``warnings`` mention a collapsed modality: fix the embeddings first.
    2. Retrieval R@1 (both directions) below :data:`RETRIEVAL_NEAR_CHANCE` × chance: the pairs
       may be misaligned.
    3. The gap: l2m > :data:`GAP_LARGE` and the centroid carries more than
       :data:`CENTROID_SHARE_HIGH` of the mean squared pair distance (alignment = l2m² +
       residual_gap): centering closes that share; carries less than
       :data:`CENTROID_SHARE_LOW`: centering will not help much; l2m < :data:`GAP_SMALL`: the
       means nearly coincide.
    4. Linear separability within :data:`SEPARABILITY_NEAR_CHANCE` of chance: the modalities
       overlap; above :data:`SEPARABILITY_HIGH`: one hyperplane splits them (Shi et al. 2023).
    5. Hubness (either side) above :data:`HUBNESS_HIGH`: hub-aware rescoring helps retrieval.
    6. Mean cosine within a modality above :data:`CONE_HIGH`: the cone effect (Liang et al. 2022).
    7. Mutual kNN inside its permutation null (``null``, from ``ci=``): no more shared
       neighbours than chance.

    Examples
    --------
    >>> reading({"l2m": 0.8, "alignment": 0.7, "residual_gap": 0.06})[0][:60]
    'centroid gap large (l2m 0.80): it carries 91% of the mean sq'
    >>> reading({"l2m": 0.05})
    ['the modality means nearly coincide (l2m 0.05 < 0.1): there is little centroid gap to close']
    """
    out: list[str] = []
    if any("embeddings" in w and ("identical" in w or "same way" in w) for w in result.get("warnings", [])):
        out.append("a modality looks collapsed (see the warnings): the gap numbers measure the broken "
                   "encoder, not the model; fix the embeddings before reading them")
    chance = result.get("chance", {})
    r1 = [(_num(result, k), chance.get(k)) for k in ("i2t_r1", "t2i_r1")]
    if all(v is not None and c for v, c in r1) and all(v < RETRIEVAL_NEAR_CHANCE * c for v, c in r1):
        out.append(f"retrieval is near chance (R@1 {r1[0][0]:.3f} / {r1[1][0]:.3f}, chance {r1[0][1]:.3g}): "
                   "the pairs may be misaligned (rows in a different order?) or the encoders unrelated")
    l2m, align, resid = _num(result, "l2m"), _num(result, "alignment"), _num(result, "residual_gap")
    if l2m is not None and l2m < GAP_SMALL:
        out.append(f"the modality means nearly coincide (l2m {l2m:.2f} < {GAP_SMALL:g}): there is little "
                   "centroid gap to close")
    elif l2m is not None and align and resid is not None:
        share = l2m**2 / align
        if l2m > GAP_LARGE and share > CENTROID_SHARE_HIGH:
            out.append(f"centroid gap large (l2m {l2m:.2f}): it carries {share:.0%} of the mean squared pair "
                       f"distance ({align:.2f}; residual {resid:.2f}), which centering closes (see "
                       "`gaplab mitigate center`)")
        elif share < CENTROID_SHARE_LOW:
            out.append(f"the centroid gap carries only {share:.0%} of the mean squared pair distance "
                       f"({align:.2f}): centering will not close much; the rest is how pairs differ "
                       "(see frechet_distance_centered, or `gaplab mitigate procrustes`)")
    sep, sep_chance = _num(result, "linear_separability"), chance.get("linear_separability", 0.5)
    if sep is not None and sep <= sep_chance + SEPARABILITY_NEAR_CHANCE:
        out.append(f"separability near chance ({sep:.2f} vs {sep_chance:.2f}): the modalities overlap")
    elif sep is not None and sep > SEPARABILITY_HIGH:
        out.append(f"a linear classifier tells image from text {sep:.0%} of the time: the modalities sit "
                   "apart along a few directions (see top_dims; `gaplab mitigate remove-dims`)")
    hub = [v for v in (_num(result, "hubness_image"), _num(result, "hubness_text")) if v is not None]
    if hub and max(hub) > HUBNESS_HIGH:
        out.append(f"hubness high (k-occurrence skewness {max(hub):.1f} > {HUBNESS_HIGH:g}): a few items are "
                   "everyone's neighbour; hub-aware rescoring (CSLS, inverted softmax, QB-norm) helps retrieval")
    cones = [(n, v) for n in ("image", "text") if (v := _num(result, f"mean_cos_{n}")) is not None and v > CONE_HIGH]
    if cones:
        what = " and ".join(f"{n} {v:.2f}" for n, v in cones)
        out.append(f"cone effect: rows of a modality crowd one direction (mean cosine {what} > {CONE_HIGH:g}); "
                   "the gap partly reflects it (Liang et al. 2022)")
    mk = result.get("null", {}).get("mutual_knn")
    if mk and mk["range95"][0] <= mk["observed"] <= mk["range95"][1]:
        out.append(f"mutual kNN ({mk['observed']:.3f}) is inside its permutation null "
                   f"[{mk['range95'][0]:.3f}, {mk['range95'][1]:.3f}]: the two spaces share no more "
                   "neighbours than chance")
    return out
