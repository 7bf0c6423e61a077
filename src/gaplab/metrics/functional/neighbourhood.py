"""Object bias (MOAD, two definitions) and neighbourhood preservation (Kendall-τ) — Schrodi et al.

Two object-bias measures carry the name MOAD, and they are not the same quantity:

* :func:`moad` — the per-sample, cross-modal form (1/(4n) Σ over samples) in the text of
  paper 004 as stored in ``../shared/papers`` (§4). That text is an earlier version than
  the ICLR 2025 paper, judging by its title ("... Contrastive Vision-Language
  Representation Learning") and its Fig. 3b (113 VLMs);
* :func:`moad_iclr` — MOAD_img / MOAD_txt of the ICLR 2025 version ("... Contrastive
  Vision-Language Models", 98 VLMs in that figure; the formula is quoted in the notes of
  paper 000, and the authors' code, ``analysis/object_bias_vs_performance.py`` of
  lmb-freiburg/two-effects-one-trigger, computes it): within one modality, how much closer
  the embeddings of samples sharing an object are than those sharing an attribute
  (1/(2|O|) Σ over objects − 1/(2|A|) Σ over attributes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, check_pair, normalize_rows, to_numpy

__all__ = ["moad", "moad_iclr", "class_means", "kendall_tau_distance"]


def _matching_score(x: np.ndarray, y: np.ndarray) -> float:
    """(1/n) Σ_i (x_i·y_i − 1/(n−1) Σ_{j≠i} x_i·y_j), in O(n·d)."""
    n = x.shape[0]
    paired = np.einsum("ij,ij->i", x, y, dtype=np.float64)
    cross = (x.sum(0, dtype=np.float64) @ y.sum(0, dtype=np.float64) - paired.sum()) / (n - 1)
    return float(paired.sum() / n - cross / n)


def moad(
    image_emb: Any,
    object_text_emb: Any,
    attribute_text_emb: Any,
    *,
    attribute_image_emb: Any = None,
) -> float:
    r"""Matching Object Attribute Distance, per-sample form: bias towards objects (> 0) or attributes (< 0).

    .. math::

        \mathrm{MOAD} = \frac{1}{4n}\sum_i\Big(x_{i,o}^\top y_{i,o} - \frac{1}{n-1}\sum_{j\ne i}x_{i,o}^\top y_{j,o}\Big)
                      - \frac{1}{4n}\sum_i\Big(x_{i,a}^\top y_{i,a} - \frac{1}{n-1}\sum_{j\ne i}x_{i,a}^\top y_{j,a}\Big)

    The per-sample, cross-modal definition in the text of paper 004 as stored (Schrodi et al.,
    §4), an earlier version than the ICLR 2025 paper (see the module docstring). The ICLR
    2025 version defines MOAD_img / MOAD_txt instead, within one modality and averaged over
    objects and attributes: :func:`moad_iclr`.
    Row i of ``object_text_emb`` embeds the object of sample
    i (e.g. "a photo of a 7"), row i of ``attribute_text_emb`` its attribute ("red"); both
    are compared with the image embedding of sample i (``attribute_image_emb`` if the
    attribute side uses other images). Rows are L2-normalised, so each bracket lies in
    [−2, 2] and MOAD in [−1, 1]. Exact in O(n·d).

    References
    ----------
    Schrodi, Hoffmann, Argus, Fischer, Brox, "Two Effects, One Trigger: On the Modality Gap,
    Object Bias, and Information Imbalance in Contrastive Vision-Language Representation
    Learning", §4 (paper 004's text: arXiv:2404.07983, a version before the ICLR 2025 one).

    Examples
    --------
    >>> img = [[1.0, 0.0], [0.0, 1.0]]
    >>> round(moad(img, img, [[0.0, 1.0], [1.0, 0.0]]), 6)  # objects match, attributes anti-match
    0.5
    """
    x_o, y_o, _ = check_pair(image_emb, object_text_emb, where="moad")
    x_a = x_o if attribute_image_emb is None else attribute_image_emb
    x_a, y_a, _ = check_pair(x_a, attribute_text_emb, where="moad")
    if x_o.shape[1] != x_a.shape[1]:
        raise InputError(f"moad: object and attribute embeddings differ in d: {x_o.shape} vs {x_a.shape}")
    x_o, y_o, x_a, y_a = (normalize_rows(a) for a in (x_o, y_o, x_a, y_a))
    return (_matching_score(x_o, y_o) - _matching_score(x_a, y_a)) / 4.0


def _labels_2d(labels: Any, n: int, *, name: str, where: str) -> np.ndarray:
    """``labels`` as an (n, f) array: one column per factor (a 1-D array is one factor)."""
    lab = to_numpy(labels)
    if lab.ndim == 1:
        lab = lab[:, None]
    if lab.ndim != 2 or lab.shape[0] != n or lab.shape[1] < 1:
        raise InputError(f"{where}: {name} must have shape ({n},) or ({n}, n_factors), got {lab.shape}")
    if lab.dtype == object:
        raise InputError(f"{where}: {name} must be finite integer or string class labels, got dtype object")
    if np.issubdtype(lab.dtype, np.floating) and not np.isfinite(lab).all():
        raise InputError(f"{where}: {name} must be finite integer or string class labels, got NaN or inf")
    return lab


def _concept_contrasts(e: np.ndarray, labels: np.ndarray) -> list[float]:
    """s⁺_c − s⁻_c of every concept c = (factor column, value) that has both, in O(n·d) per factor.

    s⁺_c: mean cosine over the ordered pairs i ≠ j of samples showing c; s⁻_c: mean cosine
    between the samples showing c and those showing another value of the same factor. Rows
    of ``e`` are unit vectors, so Σ_{i≠j∈S} x̂ᵢ·x̂ⱼ = ‖Σ_S x̂‖² − Σ_S ‖x̂ᵢ‖².
    """
    n = e.shape[0]
    sq = np.einsum("ij,ij->i", e, e)
    total = e.sum(0)
    out: list[float] = []
    for col in labels.T:
        values, inv = np.unique(col, return_inverse=True)
        if values.size < 2:
            continue
        onehot = np.zeros((values.size, n))
        onehot[inv, np.arange(n)] = 1.0
        sums = onehot @ e
        counts = onehot.sum(1)
        sqs = onehot @ sq
        for c in range(values.size):
            m = counts[c]
            if m < 2:
                continue
            within = (sums[c] @ sums[c] - sqs[c]) / (m * (m - 1))
            cross = sums[c] @ (total - sums[c]) / (m * (n - m))
            out.append(float(within - cross))
    return out


def moad_iclr(emb: Any, object_labels: Any, attribute_labels: Any) -> float:
    r"""MOAD of the ICLR 2025 version (MOAD_img / MOAD_txt): object bias within one modality.

    .. math::

        \mathrm{MOAD} = \frac{1}{2|O|}\sum_{o\in O}\big(s^+_o - s^-_o\big)
                       - \frac{1}{2|A|}\sum_{a\in A}\big(s^+_a - s^-_a\big),\qquad
        s^+_c = \frac{1}{m_c(m_c-1)}\sum_{i\ne j\in S_c}\hat e_i^\top\hat e_j,\quad
        s^-_c = \frac{1}{m_c(n-m_c)}\sum_{i\in S_c,\ j\notin S_c}\hat e_i^\top\hat e_j

    with :math:`S_c` the :math:`m_c` samples that show concept c (an object, or one value of
    an attribute factor) and :math:`j \notin S_c` the samples with another value of that
    factor. Positive: samples sharing an object are closer than samples sharing an
    attribute (bias towards objects); negative: towards attributes; 0: none. Each bracket
    lies in [−2, 2], so MOAD lies in [−2, 2]. Pass image embeddings for MOAD_img, text
    embeddings of the samples' matching captions for MOAD_txt. Exact in O(n·d) per factor.

    Reading: the formula (quoted in the notes of paper 000) leaves sim⁺/sim⁻ undefined; we
    take the authors' code (``inter_intra_cossine_sims`` in ``analysis/object_bias_precompute.py``
    of lmb-freiburg/two-effects-one-trigger): mean cosine of pairs that share the concept
    (intra) and of pairs that do not (cross), in one modality. Unlike that code we average
    per concept with the formula's 1/2 (the code pools every concept's pairs before
    subtracting and drops the 1/2) and use every cross pair (the code keeps the upper
    triangle of each cross-class block). Concepts shown by fewer than 2 samples, and factors
    with a single value, have no s⁺ or s⁻ and are left out. For the per-sample cross-modal
    form of paper 004's text see :func:`moad`.

    Parameters
    ----------
    emb : array (n, d)
        One modality's embeddings (rows are L2-normalised here).
    object_labels : array (n,) or (n, f)
        The object of each sample (one column per object factor).
    attribute_labels : array (n,) or (n, f)
        The attribute value of each sample, one column per attribute factor (e.g. MAD's five:
        thickness, swelling, fracture, scale, colour); each (column, value) is one attribute.

    Returns
    -------
    float
        MOAD; > 0 object bias, < 0 attribute bias.

    Raises
    ------
    InputError
        Bad embeddings; labels of the wrong shape or NaN; no object or no attribute with at
        least 2 samples in a factor of at least 2 values.

    References
    ----------
    Schrodi, Hoffmann, Argus, Fischer, Brox, "Two Effects, One Trigger: On the Modality Gap,
    Object Bias, and Information Imbalance in Contrastive Vision-Language Models", ICLR 2025,
    §4 (MOAD_img).

    Examples
    --------
    Objects fully separated, attributes cutting across them: s⁺ − s⁻ = 1 − 0 per object and
    0 − ½ per attribute, so MOAD = ½·(1 + 1)/2 − ½·(−½ − ½)/2 = 0.5 + 0.25:

    >>> e = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    >>> moad_iclr(e, [0, 0, 1, 1], [0, 1, 0, 1])
    0.75
    """
    e = check_embeddings(emb, name="emb", where="moad_iclr", min_rows=2)
    n = e.shape[0]
    objects = _labels_2d(object_labels, n, name="object_labels", where="moad_iclr")
    attributes = _labels_2d(attribute_labels, n, name="attribute_labels", where="moad_iclr")
    e = normalize_rows(np.asarray(e, dtype=np.float64))
    terms = {}
    for side, lab in (("object", objects), ("attribute", attributes)):
        terms[side] = _concept_contrasts(e, lab)
        if not terms[side]:
            raise InputError(f"moad_iclr: no {side} is shown by at least 2 of the {n} samples in a factor with "
                             f"at least 2 values ({side}_labels of shape {lab.shape})")
    return float(np.mean(terms["object"]) / 2.0 - np.mean(terms["attribute"]) / 2.0)


def class_means(emb: Any, labels: Any, *, normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean (normalised) embedding of each class; returns ``(means (C, d), classes)``."""
    a = check_embeddings(emb, name="emb", where="class_means", min_rows=1)
    lab = to_numpy(labels)
    if lab.ndim != 1 or lab.shape[0] != a.shape[0]:
        raise InputError(f"class_means: labels must have shape ({a.shape[0]},), got {lab.shape}")
    if normalize:
        a = normalize_rows(a)
    classes, inv = np.unique(lab, return_inverse=True)
    sums = np.zeros((classes.size, a.shape[1]))
    np.add.at(sums, inv, a)
    return sums / np.bincount(inv)[:, None], classes


def kendall_tau_distance(
    x: Any, y: Any, *, labels: Any = None, text_labels: Any = None
) -> float:
    r"""Normalised Kendall-τ distance between neighbourhood orderings across modalities.

    For each class c, the other classes are ranked by cosine similarity to c's mean in image
    space and in text space; the distance of the two rankings is the share of discordant
    pairs, :math:`(1-\tau_b)/2 \in [0, 1]` (``scipy.stats.kendalltau``), averaged over c.

    .. math:: \mathrm{KTD} = \frac1C\sum_c \frac{1 - \tau_b\big(\cos(\mu^x_c, \mu^x_{\cdot}),\ \cos(\mu^y_c, \mu^y_{\cdot})\big)}{2}

    Schrodi et al., ICLR 2025, Table 1 (0 = orderings preserved, lower is better). ``x``,
    ``y`` are class means (C, d) row-aligned, or, with ``labels``, per-sample embeddings
    whose class means are taken first (``text_labels`` if the text rows carry other labels).
    Needs C ≥ 3.

    Examples
    --------
    >>> m = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]
    >>> kendall_tau_distance(m, m)
    0.0
    """
    from scipy.stats import kendalltau

    if labels is not None:
        mx, cx = class_means(x, labels)
        my, cy = class_means(y, labels if text_labels is None else text_labels)
        if not np.array_equal(cx, cy):
            raise InputError("kendall_tau_distance: image and text rows cover different classes")
    else:
        mx, my, _ = check_pair(x, y, where="kendall_tau_distance")
    mx, my = normalize_rows(np.asarray(mx, dtype=np.float64)), normalize_rows(np.asarray(my, dtype=np.float64))
    c = mx.shape[0]
    if c < 3:
        raise InputError(f"kendall_tau_distance: needs at least 3 classes, got {c}")
    sx, sy = mx @ mx.T, my @ my.T
    dists = []
    for k in range(c):
        others = np.r_[0:k, k + 1 : c]
        tau = kendalltau(sx[k, others], sy[k, others]).statistic
        dists.append((1.0 - (0.0 if np.isnan(tau) else tau)) / 2.0)
    return float(np.mean(dists))
