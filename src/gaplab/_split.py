"""The one seeded split: ``range(n)`` into a part of about ``fraction · n`` and the rest.

Used by every split gaplab makes: the separability probe's train/test images
(:func:`gaplab.metrics.functional.separability.modality_split`), the mitigation protocol's
held-out images (:func:`gaplab.mitigate.split_pairs`), a training run's validation pairs
(:func:`gaplab.train.run.create_data_from_spec`) and a dataset's stratified train/test split
(:func:`gaplab.data.split_indices`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import InputError

__all__ = ["seeded_split"]


def _first_size(fraction: float, n: int, allow_empty: bool) -> int:
    k = int(round(fraction * n))
    return k if allow_empty else min(max(1, k), n - 1)


def seeded_split(
    n: int,
    fraction: float,
    seed: Any,
    *,
    where: str = "split",
    name: str = "fraction",
    labels: Any = None,
    allow_empty: bool = False,
    sort: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(first, rest)``: a seeded split of ``range(n)``, ``first`` holding about ``fraction`` of it.

    The order is ``np.random.default_rng(seed).permutation(n)``; ``first`` takes its first
    ``round(fraction · n)`` items, at least one and at most ``n − 1`` (so both parts are
    non-empty when ``n >= 2``) unless ``allow_empty``. With ``labels`` the split is
    stratified: the same rule within each class (classes in sorted order, one generator), so
    a class of two or more gives each part at least one item. ``sort`` returns both parts
    sorted, else in permutation order (no labels only).

    Raises :class:`~gaplab.InputError` ``"<where>: <name> must be in (0, 1), got …"``
    (``[0, 1)`` with ``allow_empty``).

    >>> seeded_split(10, 0.3, 0)
    (array([2, 4, 6]), array([0, 1, 3, 5, 7, 8, 9]))
    """
    low_ok = fraction >= 0.0 if allow_empty else fraction > 0.0
    if not (low_ok and fraction < 1.0):
        interval = "[0, 1)" if allow_empty else "(0, 1)"
        raise InputError(f"{where}: {name} must be in {interval}, got {fraction}")
    rng = np.random.default_rng(seed)
    if labels is None:
        perm = rng.permutation(n)
        k = _first_size(fraction, n, allow_empty)
        first, rest = perm[:k], perm[k:]
        return (np.sort(first), np.sort(rest)) if sort else (first, rest)
    labels = np.asarray(labels)
    parts: list[np.ndarray] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(members.size)]
        parts.append(members[: _first_size(fraction, members.size, allow_empty)])
    first = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    mask = np.ones(n, dtype=bool)
    mask[first] = False
    return first, np.flatnonzero(mask)
