"""Cross-modal retrieval recall@K and zero-shot classification accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows, to_numpy
from ._blocks import beats, check_block_rows
from ._onepass import cross_pass

__all__ = ["retrieval_recall", "retrieval_ranks", "zero_shot_accuracy"]


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, bool)


def _check_ks(ks: Sequence[int], where: str) -> tuple[int, ...]:
    vals = tuple(ks) if isinstance(ks, (list, tuple, np.ndarray)) else (ks,)
    if not vals or not all(_is_int(k) and k >= 1 for k in vals):
        raise InputError(f"{where}: ks must be positive integers, got {vals}")
    return tuple(int(k) for k in vals)


def retrieval_ranks(
    x: Any, y: Any, *, image_index: Any = None, normalize: bool = True, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of the first correct match, image→text (per image) and text→image (per caption).

    A rank counts the wrong candidates scoring *higher* than the best correct one. Ties go
    in the query's favour: scores are float64 and two scores within
    ``TIE_TOL``·max(1, |score|) (1e-9) of each other are a tie, so exact duplicate vectors always
    tie. Images without any caption are left out of the image→text ranks. Blockwise: memory
    O(block × N).
    """
    check_block_rows(block_rows, "retrieval_recall")
    xa, ya, idx = check_pair(x, y, where="retrieval_recall", image_index=image_index)
    if normalize:
        xa, ya = normalize_rows(xa), normalize_rows(ya)
    return _retrieval_ranks(xa, ya, idx, block_rows)


def _retrieval_ranks(
    xa: np.ndarray, ya: np.ndarray, idx: np.ndarray | None, block_rows: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Kernel of :func:`retrieval_ranks` on validated rows (normalised if wanted): one pass over X·Yᵀ."""
    r = cross_pass(xa, ya, idx, ranks=True, block_rows=block_rows)
    return r.ranks_i2t, r.ranks_t2i


def retrieval_recall(
    x: Any,
    y: Any,
    *,
    ks: Sequence[int] = (1, 5, 10),
    image_index: Any = None,
    normalize: bool = True,
    block_rows: int | None = None,
) -> dict[str, float]:
    r"""Image→text and text→image recall@K.

    .. math:: \mathrm{R@K}_{i\to t} = \frac1N\sum_i \mathbb{1}[\text{a caption of image } i
              \text{ is among the } K \text{ most similar captions}]

    and symmetrically for text→image. One-to-one pairs by default; with ``image_index``
    (caption k describes image ``image_index[k]``, e.g. 5 per image on COCO) an image query
    is a hit if *any* of its captions is in the top K, as in CLIP's COCO evaluation.

    Returns ``{"i2t_r1": ..., "t2i_r1": ..., ...}`` for each K.

    Examples
    --------
    >>> r = retrieval_recall([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.1], [0.1, 1.0]], ks=(1,))
    >>> r["i2t_r1"], r["t2i_r1"]
    (1.0, 1.0)
    """
    ks = _check_ks(ks, "retrieval_recall")
    return _recall_at(retrieval_ranks(x, y, image_index=image_index, normalize=normalize, block_rows=block_rows), ks)


def _recall_at(ranks: tuple[np.ndarray, np.ndarray], ks: tuple[int, ...]) -> dict[str, float]:
    """``{"i2t_rK": ..., "t2i_rK": ...}`` from the ranks of :func:`retrieval_ranks`."""
    i2t, t2i = ranks
    out: dict[str, float] = {}
    for k in ks:
        out[f"i2t_r{k}"] = float(np.mean(i2t < k))
    for k in ks:
        out[f"t2i_r{k}"] = float(np.mean(t2i < k))
    return out


def zero_shot_accuracy(image_emb: Any, class_text_emb: Any, labels: Any, *, k: int = 1) -> float:
    r"""Zero-shot top-``k`` accuracy: the class whose text embedding is most similar wins.

    .. math:: \mathrm{acc} = \frac1N\sum_i \mathbb{1}[y_i \in \operatorname{top}_k\, \cos(x_i, t_c)]

    CLIP's zero-shot protocol (Radford et al., 2021); used by Liang et al. (000, Fig. 10)
    and Schrodi et al. (004). ``class_text_emb`` is (C, d), one (averaged) prompt per class.

    Examples
    --------
    >>> zero_shot_accuracy([[1.0, 0.1], [0.2, 1.0]], [[1.0, 0.0], [0.0, 1.0]], [0, 0])
    0.5
    """
    x = normalize_rows(check_embeddings(image_emb, name="image_emb", where="zero_shot_accuracy", min_rows=1))
    c = normalize_rows(check_embeddings(class_text_emb, name="class_text_emb", where="zero_shot_accuracy", min_rows=1))
    if x.shape[1] != c.shape[1]:
        raise InputError(
            f"zero_shot_accuracy: image_emb {x.shape} and class_text_emb {c.shape} differ in d"
        )
    lab = to_numpy(labels)
    if lab.ndim != 1 or lab.shape[0] != x.shape[0] or not np.issubdtype(lab.dtype, np.integer):
        raise InputError(
            f"zero_shot_accuracy: labels must be {x.shape[0]} integers, got shape {lab.shape} dtype {lab.dtype}"
        )
    if lab.min() < 0 or lab.max() >= c.shape[0]:
        raise InputError(
            f"zero_shot_accuracy: labels must lie in [0, {c.shape[0]}), got {lab.min()}..{lab.max()}"
        )
    if not _is_int(k) or not 1 <= k <= c.shape[0]:
        raise InputError(f"zero_shot_accuracy: k must be in [1, {c.shape[0]}], got {k}")
    s = np.asarray(x, np.float64) @ np.asarray(c, np.float64).T
    correct = s[np.arange(len(lab)), lab]
    rank = beats(s, correct[:, None]).sum(axis=1)  # ties (e.g. duplicate prompts) in the query's favour
    return float(np.mean(rank < k))
