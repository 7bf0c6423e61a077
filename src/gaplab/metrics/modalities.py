"""Three or more modalities: :func:`gaplab.measure` on every pair, and each modality's distance to the joint centre."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_embeddings
from .measure import measure

__all__ = ["measure_modalities"]


def measure_modalities(modalities: Mapping[str, Any], **measure_kwargs: Any) -> dict[str, Any]:
    r"""Gap metrics between every pair of M ≥ 2 one-to-one modalities, and their distance to the joint centre.

    Row i of every array embeds the same item (image, caption, audio clip, ...), so all arrays
    have the same N. For each pair (a, b), a before b in the given order, ``pairs["a|b"]`` is
    ``measure(arrays[a], arrays[b], **measure_kwargs)`` (a plays the "image" side).

    .. math:: \mathrm{cd}_m = \Bigl\lVert \mu_m - \frac1M \sum_{m'} \mu_{m'} \Bigr\rVert_2,
              \quad \mu_m = \frac1N \sum_i \frac{z^m_i}{\lVert z^m_i \rVert}

    The joint centre is the mean of the M modality centroids (not of the pooled rows: with
    equal N the two agree). With M = 2, each distance is l2m / 2. The pairwise gap follows
    Liang et al., NeurIPS 2022 (§4.1, the modality gap between centroids); the joint centre
    for more than two modalities is our reading (cf. the multi-modal ImageBind setting).

    Parameters
    ----------
    modalities : mapping name → array (N, d)
        At least two; names must not contain ``"|"``.
    **measure_kwargs
        Passed to :func:`gaplab.measure` (``include_pairwise``, ``ci``, ``seed``, ...);
        ``image_index`` is not allowed (one-to-one only).

    Returns
    -------
    dict
        ``{"modalities": [names], "pairs": {"a|b": measure result}, "centroid_distance": {name: float}}``.

    Raises
    ------
    InputError
        Fewer than two modalities, differing N or d, a bad name, or ``image_index``.

    Examples
    --------
    >>> e = np.eye(3)
    >>> r = measure_modalities({"image": e, "text": e[::-1], "audio": e}, include_pairwise=False)
    >>> list(r["pairs"]), r["centroid_distance"]["audio"]
    (['image|text', 'image|audio', 'text|audio'], 0.0)
    """
    if not isinstance(modalities, Mapping):
        raise InputError(f"measure_modalities: need a mapping name -> array, got {type(modalities).__name__}")
    names = list(modalities)
    if len(names) < 2:
        raise InputError(f"measure_modalities: need at least 2 modalities, got {len(names)} ({names})")
    for name in names:
        if not isinstance(name, str) or not name or "|" in name:
            raise InputError(f"measure_modalities: a modality name must be a non-empty string without '|', "
                             f"got {name!r}")
    if "image_index" in measure_kwargs:
        raise InputError("measure_modalities: image_index is not supported: every modality must have one row per item")
    arrays = {name: check_embeddings(modalities[name], name=f"{name!r}", where="measure_modalities")
              for name in names}
    shapes = {name: a.shape for name, a in arrays.items()}
    if len({s[0] for s in shapes.values()}) > 1 or len({s[1] for s in shapes.values()}) > 1:
        listed = ", ".join(f"{n!r} {s}" for n, s in shapes.items())
        raise InputError(f"measure_modalities: every modality needs the same (N, d) (one row per item), got {listed}")
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pairs[f"{a}|{b}"] = measure(arrays[a], arrays[b], **measure_kwargs)
    centroids = {}
    for name in names:
        z = np.asarray(arrays[name], dtype=np.float64)
        centroids[name] = (z / np.linalg.norm(z, axis=1, keepdims=True)).mean(axis=0)
    joint = np.mean([centroids[n] for n in names], axis=0)
    return {"modalities": names, "pairs": pairs,
            "centroid_distance": {n: float(np.linalg.norm(centroids[n] - joint)) for n in names}}
