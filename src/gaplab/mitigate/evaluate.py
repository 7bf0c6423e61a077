"""The held-out evaluation protocol: gap and task metrics before/after a mitigation.

:func:`compare` / :func:`evaluate` split the pairs by image (seeded, :func:`split_pairs`), fit
each mitigation on the train split only, and report on the test split: the gap in two parts
(centroid: L2M; what centring cannot remove: RMG, L2I, the sliced Wasserstein distance of
the centred modalities, linear separability) and the tasks (zero-shot accuracy, retrieval
R@1/5/10 both ways, hubness of both retrieval directions, linear probes within and across
modalities, k-means ARI/V-measure on the joint set, mixed-modality retrieval and search, and
the flip rate of top-1 predictions under input noise). Anything that needs missing labels or
class prompts is skipped and listed in ``skipped``.

Rankings (R@K, hubness, mixed search, flip rate, zero-shot) come from each method's
:meth:`~gaplab.mitigate.Mitigation.similarity`: the cosine of the transformed rows for
embedding-level methods, the re-scored banks for score-level ones (``csls``, ``qb-norm``,
``db-norm``), whose embeddings — and so gap metrics — are those of the ``none`` row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from .._split import seeded_split
from .._validation import check_embeddings, check_pair, normalize_rows, to_numpy
from ..metrics import (
    MEASURE_KEYS,
    l2i,
    l2m,
    linear_separability,
    residual_gap,
    retrieval_recall,
    rmg,
    zero_shot_accuracy,
)
from ..metrics.functional.distance import sliced_wasserstein
from ..metrics.functional.knn import hubness
from ..metrics.functional.tasks import (
    check_labels,
    kmeans_agreement,
    linear_probe,
    mixed_modality_retrieval,
    mixed_retrieval_from_scores,
)
from ._checks import check_real
from ._scoring import hubness_from_scores, ranks_from_scores, recall_at, zero_shot_from_scores
from .base import Mitigation, clone, create_mitigation, list_mitigations

__all__ = ["Split", "split_pairs", "evaluate", "compare", "published_table", "ROW_KEYS", "GAP_KEYS", "TABLE_KEYS"]

#: keys of one result row, in display order, with their meaning (metrics shared with
#: :func:`gaplab.measure` take their meaning from :data:`~gaplab.metrics.MEASURE_KEYS`)
ROW_KEYS: dict[str, str] = {
    "method": "mitigation ('none' = the embeddings as given)",
    **{k: MEASURE_KEYS[k] for k in ("l2m", "rmg", "residual_gap", "l2i")},
    "sw": "sliced Wasserstein-2 between the centred modalities (what centring leaves)",
    "linear_separability": MEASURE_KEYS["linear_separability"],
    "zero_shot": "zero-shot top-1 accuracy with the class prompts",
    **{k: MEASURE_KEYS[k] for k in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10")},
    **{k: MEASURE_KEYS[k] for k in ("hubness_image", "antihub_image", "hubness_text", "antihub_text")},
    "probe_image": "linear probe: train on train images, test on test images",
    "probe_cross": "cross-modal probe: train on train texts, test on test images",
    "kmeans_ari": "k-means on images+texts vs class labels (ARI)",
    "kmeans_vmeasure": "k-means on images+texts vs class labels (V-measure)",
    "kmeans_modality_ari": "k-means clusters vs modality (ARI; 0 = clusters ignore modality)",
    "mixed_same_modality": "mixed corpus: top hit has the query's modality (gap-free ~0.5)",
    "mixed_same_modality_img": "the same, image queries only (no duplicate captions involved)",
    "mixed_pair_r1": "mixed corpus: top hit is the query's pair",
    "mixed_ndcg10": "mixed search (text queries; corpus: images + other items' captions): nDCG@10, own image relevant",
    "mixed_own_share10": "mixed search: share of the top 10 that are texts (the query's own modality)",
    "flip_rate": "share of retrieval top-1 predictions (both ways) that change under Gaussian input noise",
    "flip_rate_zs": "share of zero-shot predictions that change under Gaussian noise on the images",
}

#: the gap metrics among :data:`ROW_KEYS` (the rest are tasks)
GAP_KEYS = ("l2m", "rmg", "residual_gap", "l2i", "sw", "linear_separability")

#: k of the hubness keys and of mixed search (the catalogue's hubness meanings say "top 10")
TOP_K = 10

#: the columns of :func:`published_table`: gap, retrieval, hubness, mixed search, robustness
TABLE_KEYS = ("l2m", "rmg", "residual_gap", "i2t_r1", "t2i_r1", "hubness_image", "antihub_image",
              "hubness_text", "antihub_text", "mixed_ndcg10", "mixed_own_share10", "flip_rate")


@dataclass(frozen=True)
class Split:
    """Disjoint train/test image indices and the text rows that go with them."""

    train_images: np.ndarray
    test_images: np.ndarray
    train_texts: np.ndarray
    test_texts: np.ndarray

    def to_dict(self) -> dict[str, int]:
        """The split's sizes: ``n_train_images``, ``n_test_images``, ``n_train_texts``, ``n_test_texts``."""
        return {
            "n_train_images": int(self.train_images.size),
            "n_test_images": int(self.test_images.size),
            "n_train_texts": int(self.train_texts.size),
            "n_test_texts": int(self.test_texts.size),
        }


def _index_array(a: Any, n: int, name: str) -> np.ndarray:
    arr = to_numpy(a)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise InputError(f"evaluate: boolean {name} mask must have shape ({n},), got {arr.shape}")
        arr = np.flatnonzero(arr)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"evaluate: {name} must be a 1-D array of image indices, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise InputError(f"evaluate: {name} indices must lie in [0, {n}), got {arr.min()}..{arr.max()}")
    if np.unique(arr).size != arr.size:
        raise InputError(f"evaluate: {name} holds repeated indices")
    return np.sort(arr.astype(np.int64))


def split_pairs(
    n_images: int,
    *,
    image_index: Any = None,
    test_fraction: float = 0.5,
    seed: int = 0,
    train: Any = None,
    test: Any = None,
) -> Split:
    """A seeded split *by image*: an image and all its captions land on the same side.

    Give ``train`` and/or ``test`` (image indices or boolean masks) to fix the split; they
    must be disjoint and non-empty (the other defaults to the complement). Raises
    :class:`~gaplab.InputError` when they overlap — fitting a mitigation on pairs it is then
    evaluated on would flatter it.

    >>> s = split_pairs(10, test_fraction=0.3, seed=0)
    >>> s.train_images.size, s.test_images.size, bool(np.intersect1d(s.train_images, s.test_images).size)
    (7, 3, False)
    """
    idx = np.arange(n_images) if image_index is None else np.asarray(image_index, dtype=np.int64)
    if train is None and test is None:
        te, tr = seeded_split(n_images, test_fraction, seed, where="evaluate", name="test_fraction")
    else:
        given_tr = _index_array(train, n_images, "train") if train is not None else None
        given_te = _index_array(test, n_images, "test") if test is not None else None
        if given_tr is None:
            assert given_te is not None  # not both None: that is the branch above
            tr = np.setdiff1d(np.arange(n_images), given_te)
        else:
            tr = given_tr
        te = np.setdiff1d(np.arange(n_images), tr) if given_te is None else given_te
        both = np.intersect1d(tr, te)
        if both.size:
            raise InputError(
                f"evaluate: train and test share {both.size} image(s) (first: {both[0]}); "
                "fit and evaluate on disjoint pairs"
            )
    if tr.size == 0 or te.size == 0:
        raise InputError(f"evaluate: train and test must both be non-empty, got {tr.size} and {te.size} images")
    return Split(
        train_images=tr,
        test_images=te,
        train_texts=np.flatnonzero(np.isin(idx, tr)),
        test_texts=np.flatnonzero(np.isin(idx, te)),
    )


class _Identity:
    """The "before" row: normalised rows, no fitting."""

    name = "none"
    fit_params: tuple[str, ...] = ()
    score_level = False

    def get_params(self) -> dict[str, Any]:
        return {}

    def fit(self, *a: Any, **k: Any) -> _Identity:
        return self

    def transform_image(self, x: Any) -> np.ndarray:
        return normalize_rows(np.asarray(x, dtype=np.float64))

    def transform_text(self, y: Any) -> np.ndarray:
        return normalize_rows(np.asarray(y, dtype=np.float64))

    def similarity(self, queries: Any, gallery: Any, **_: Any) -> np.ndarray:
        return self.transform_image(queries) @ self.transform_image(gallery).T


@dataclass
class _Data:
    x: np.ndarray
    y: np.ndarray
    idx: np.ndarray  # caption -> image
    labels: np.ndarray | None
    class_text: np.ndarray | None
    query_text: np.ndarray | None
    split: Split
    skipped: list[str]
    notes: list[str]


def _prepare(
    image: Any, text: Any, *, labels: Any, class_text: Any, query_text: Any, image_index: Any,
    test_fraction: float, seed: int, train: Any, test: Any,
) -> _Data:
    x, y, idx = check_pair(image, text, where="evaluate", image_index=image_index)
    if idx is None:
        idx = np.arange(y.shape[0])
    skipped: list[str] = []
    lab = None if labels is None else check_labels(labels, x.shape[0], "evaluate")
    split = split_pairs(x.shape[0], image_index=idx, test_fraction=test_fraction, seed=seed,
                        train=train, test=test)
    if split.test_images.size < 4:
        raise InputError(f"evaluate: the test split has {split.test_images.size} images; need at least 4")
    ct = None
    notes: list[str] = []
    if isinstance(class_text, str):
        if class_text != "train-captions":
            raise InputError(
                f"evaluate: class_text must be a (C, d) array or 'train-captions', got {class_text!r}"
            )
        if lab is not None:
            ct = _class_means(y, lab[idx], split.train_texts)
            notes.append("zero_shot: class prompts = normalised mean of each class's train-split "
                         "caption embeddings (no class_text given; test captions unused)")
    elif class_text is not None:
        ct = check_embeddings(class_text, name="class_text", where="evaluate", min_rows=1)
        if ct.shape[1] != x.shape[1]:
            raise InputError(f"evaluate: class_text has d = {ct.shape[1]}, the embeddings {x.shape[1]}")
        if lab is not None and lab.max() >= ct.shape[0]:
            raise InputError(
                f"evaluate: labels go up to {lab.max()} but class_text has only {ct.shape[0]} rows"
            )
    qt = None
    if query_text is not None:
        qt = check_embeddings(query_text, name="query_text", where="evaluate", min_rows=1)
    elif ct is not None:
        qt = ct
    if lab is None:
        skipped.append("zero_shot, probe_image, probe_cross, kmeans_*: no class labels "
                       "(pass labels= / --labels FILE or a 'labels' entry in the pairs file)")
    elif ct is None:
        skipped.append("zero_shot: no class prompt embeddings (pass class_text= or a "
                       "'class_text' (C, d) entry in the pairs file, or class_text='train-captions' "
                       "/ --class-text train-captions to use the train captions' class means)")
    return _Data(x, y, idx, lab, ct, qt, split, skipped, notes)


def _class_means(y: np.ndarray, text_labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Row c: normalised mean of the normalised texts of class c among ``rows``."""
    yn = normalize_rows(y[rows].astype(np.float64))
    lab = text_labels[rows]
    n_classes = int(text_labels.max()) + 1
    missing = sorted(set(range(n_classes)) - set(lab.tolist()))
    if missing:
        raise InputError(
            f"evaluate: class_text='train-captions' needs every class in the train split; "
            f"class {missing[0]} has no train caption"
        )
    sums = np.zeros((n_classes, y.shape[1]))
    np.add.at(sums, lab, yn)
    return normalize_rows(sums)


def _as_mitigation(m: Any) -> tuple[str, Any]:
    if m is None or m == "none":
        return "none", _Identity()
    if isinstance(m, str):
        return m, create_mitigation(m)
    if isinstance(m, Mitigation):
        return m.name or type(m).__name__, clone(m)  # never reuse state fitted elsewhere
    raise InputError(f"evaluate: mitigation must be a name or a Mitigation, got {type(m).__name__}")


def _fitted_summary(m: Any) -> dict[str, Any]:
    """Scalars and small integer arrays of the fitted state (e.g. ``alpha_``, ``dims_``)."""
    out: dict[str, Any] = {}
    for k in getattr(m, "_state_names", list)():
        v = getattr(m, k)
        if k == "n_features_in_":
            continue
        if isinstance(v, (bool, int, float, str, np.generic)):
            out[k] = v.item() if isinstance(v, np.generic) else v
        elif isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.integer) and v.size <= 64:
            out[k] = v.tolist()
    return out


def _noisy(a: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Normalised rows plus Gaussian noise of expected norm ~sigma (per coordinate sigma/sqrt(d))."""
    an = normalize_rows(np.asarray(a, dtype=np.float64))
    return an + rng.standard_normal(an.shape) * (sigma / np.sqrt(an.shape[1]))


def _zs_scores(m: Any, x: np.ndarray, class_text: np.ndarray) -> np.ndarray:
    """Image rows × class prompts, scored as the zero-shot metric scores them."""
    if getattr(m, "score_level", False):
        return np.asarray(m.similarity(x, class_text, query_modality="image", gallery_modality="text"))
    tq = getattr(m, "transform_query", m.transform_text)
    return np.asarray(m.transform_image(x), np.float64) @ np.asarray(tq(class_text), np.float64).T


def _flip(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    return np.argmax(clean, axis=1) != np.argmax(noisy, axis=1)


def _score(m: Any, label: str, d: _Data, *, ks: Sequence[int], seed: int, n_projections: int,
           skipped: list[str], flip_sigma: float = 0.1) -> dict[str, Any]:
    s = d.split
    idx_tr = d.idx[s.train_texts]
    fit_kw = {}
    if "query_text" in getattr(m, "fit_params", ()) and d.query_text is not None:
        fit_kw["query_text"] = d.query_text
    # the only place a mitigation sees data: the train split
    m.fit(d.x[s.train_images], d.y[s.train_texts],
          image_index=np.searchsorted(s.train_images, idx_tr), **fit_kw)
    xte = m.transform_image(d.x[s.test_images]).astype(np.float64)
    yte = m.transform_text(d.y[s.test_texts]).astype(np.float64)
    idx_te = np.searchsorted(s.test_images, d.idx[s.test_texts])
    one_to_one = idx_te.size == s.test_images.size and np.array_equal(idx_te, np.arange(idx_te.size))
    ii = None if one_to_one else idx_te
    row: dict[str, Any] = {"method": label, "params": m.get_params(), "fitted": _fitted_summary(m)}
    row["l2m"] = l2m(xte, yte, image_index=ii)
    row["rmg"] = rmg(xte, yte, image_index=ii)
    row["residual_gap"] = residual_gap(xte, yte, image_index=ii)
    row["l2i"] = l2i(xte, yte, image_index=ii)
    row["sw"] = sliced_wasserstein(xte, yte, n_projections=n_projections, seed=seed)
    try:
        row["linear_separability"] = linear_separability(xte, yte, image_index=ii, seed=seed)
    except InputError as e:
        row["linear_separability"] = None
        skipped.append(f"linear_separability ({label}): {e}")
    xr, yr = d.x[s.test_images], d.y[s.test_texts]
    score_level = bool(getattr(m, "score_level", False))
    kh = min(TOP_K, xr.shape[0], yr.shape[0])
    s_it = np.asarray(m.similarity(xr, yr, query_modality="image", gallery_modality="text"))
    s_ti = np.asarray(m.similarity(yr, xr, query_modality="text", gallery_modality="image"))
    if score_level:  # rank by the method's own scores
        row.update(recall_at(ranks_from_scores(s_it, s_ti, idx_te), tuple(ks)))
        row.update(hubness_from_scores(s_ti, s_it, kh))
    else:  # cosine of the transformed rows: the blockwise metric kernels
        row.update(retrieval_recall(xte, yte, image_index=ii, ks=ks))
        row.update(hubness(xte, yte, k=kh, image_index=ii))
    rng = np.random.default_rng(seed)  # the same noise for every method
    nx, ny = _noisy(xr, flip_sigma, rng), _noisy(yr, flip_sigma, rng)
    flips = np.r_[_flip(s_it, m.similarity(nx, ny, query_modality="image", gallery_modality="text")),
                  _flip(s_ti, m.similarity(ny, nx, query_modality="text", gallery_modality="image"))]
    row["flip_rate"] = float(flips.mean())
    row["flip_rate_zs"] = None
    for key in ("zero_shot", "probe_image", "probe_cross", "kmeans_ari", "kmeans_vmeasure",
                "kmeans_modality_ari"):
        row[key] = None
    if d.labels is not None:
        lab_te = d.labels[s.test_images]
        if d.class_text is not None:
            zs = _zs_scores(m, xr, d.class_text)
            if score_level:
                row["zero_shot"] = zero_shot_from_scores(zs, lab_te)
            else:
                tq = getattr(m, "transform_query", m.transform_text)
                row["zero_shot"] = zero_shot_accuracy(xte, tq(d.class_text), lab_te)
            row["flip_rate_zs"] = float(_flip(zs, _zs_scores(m, nx, d.class_text)).mean())
        xtr = m.transform_image(d.x[s.train_images])
        ytr = m.transform_text(d.y[s.train_texts])
        lab_tr = d.labels[s.train_images]
        if np.unique(lab_tr).size >= 2:
            row["probe_image"] = linear_probe(xtr, lab_tr, xte, lab_te)
            row["probe_cross"] = linear_probe(ytr, d.labels[idx_tr], xte, lab_te)
        elif label == "none":
            skipped.append("probe_image, probe_cross: the train split holds a single class")
        if np.unique(lab_te).size >= 2:
            row.update(kmeans_agreement(xte, yte, lab_te, d.labels[d.idx[s.test_texts]], seed=seed))
        elif label == "none":
            skipped.append("kmeans_*: the test split holds a single class")
    if score_level:
        z = np.vstack([xr, yr])
        mods = np.array(["image"] * xr.shape[0] + ["text"] * yr.shape[0])
        n = xr.shape[0]
        blocks = [(0, n, np.asarray(m.similarity(xr, z, query_modality="image", gallery_modality=mods))),
                  (n, n + yr.shape[0], np.asarray(m.similarity(yr, z, query_modality="text", gallery_modality=mods)))]
        mixed = mixed_retrieval_from_scores(n, idx_te, blocks, search_k=TOP_K)
    else:
        mixed = mixed_modality_retrieval(xte, yte, image_index=ii, search_k=TOP_K)
    for key in ("mixed_same_modality", "mixed_same_modality_img", "mixed_pair_r1",
                f"mixed_ndcg{TOP_K}", f"mixed_own_share{TOP_K}"):
        row[key] = mixed[key]
    return row


def compare(
    image: Any,
    text: Any,
    mitigations: Iterable[Any] | Mapping[str, Any] = (),
    *,
    labels: Any = None,
    class_text: Any = None,
    query_text: Any = None,
    image_index: Any = None,
    test_fraction: float = 0.5,
    seed: int = 0,
    train: Any = None,
    test: Any = None,
    ks: Sequence[int] = (1, 5, 10),
    n_projections: int = 128,
    include_before: bool = True,
    flip_sigma: float = 0.1,
) -> dict[str, Any]:
    """Gap and task metrics on the test split, for the raw embeddings and each mitigation.

    Every mitigation is cloned and fit on the *train* split only (images and their
    captions, plus ``query_text`` — default: ``class_text`` — for methods that take it),
    then every metric is computed on the *test* split, which no mitigation ever sees. The
    probes train on transformed train rows and score transformed test rows. Metrics that
    need what is missing are ``None`` and explained in ``skipped``.

    Parameters
    ----------
    image, text : array (N, d), (K, d)
        Paired embeddings (row i with row i, or caption k with image ``image_index[k]``).
    mitigations : names, Mitigation objects, or a mapping label → either
        What to compare; ``"all"`` inside the list expands to every registered method.
    labels : int array (N,), optional
        Class of each image (captions inherit it). Needed by zero-shot, probes, k-means.
    class_text : array (C, d) or "train-captions", optional
        One prompt embedding per class (row c = class c). Needed by zero-shot.
        ``"train-captions"`` builds them from the data: the normalised mean of each class's
        *train-split* caption embeddings (listed in ``notes``); fits templated captions
        such as "a handwritten seven." well.
    query_text : array (Q, d), optional
        Query-text calibration set for ``multi-mean`` (default: ``class_text``).
    test_fraction, seed, train, test
        The split, see :func:`split_pairs`. ``seed`` also seeds the metrics' randomness
        (sliced Wasserstein projections, probes, k-means, the flip-rate noise).
    flip_sigma : float, default 0.1
        σ of the flip rate: every test image and text (normalised) gets Gaussian noise of
        per-coordinate std σ/√d (expected norm ≈ σ), drawn once from ``seed`` and the same
        for every method; ``flip_rate`` is the share of retrieval top-1 predictions (each
        test image querying the test texts and each text the images, pooled) whose argmax
        changes, ``flip_rate_zs`` the same for zero-shot predictions (noise on the images).

    Returns
    -------
    dict with ``split`` (sizes), ``skipped`` (what was not computed and why), ``notes``,
    ``rows`` (one dict per method: keys :data:`ROW_KEYS`, ``params``, and ``fitted`` — the
    scalar fitted state such as ``alpha_`` or the removed ``dims_``), ``gap_keys`` and
    ``meanings``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(60, 8))
    >>> r = compare(z + 2 + 0.1 * rng.normal(size=z.shape), z - 2, ["center"], seed=0)
    >>> [row["method"] for row in r["rows"]]
    ['none', 'center']
    >>> r["rows"][1]["l2m"] < r["rows"][0]["l2m"]
    True
    """
    return _compare(image, text, mitigations, labels=labels, class_text=class_text, query_text=query_text,
                    image_index=image_index, test_fraction=test_fraction, seed=seed, train=train, test=test,
                    ks=ks, n_projections=n_projections, include_before=include_before,
                    flip_sigma=flip_sigma)[0]


def _compare(
    image: Any, text: Any, mitigations: Iterable[Any] | Mapping[str, Any], *, labels: Any, class_text: Any,
    query_text: Any, image_index: Any, test_fraction: float, seed: int, train: Any, test: Any,
    ks: Sequence[int], n_projections: int, include_before: bool, flip_sigma: float = 0.1,
) -> tuple[dict[str, Any], dict[str, Mitigation], Split]:
    """:func:`compare`'s result, the fitted mitigations and the split.

    The mitigations map each row label to its object as fitted on the train split (the
    "none" row has none).
    """
    flip_sigma = check_real(flip_sigma, "flip_sigma", "evaluate", low=0.0)
    d = _prepare(image, text, labels=labels, class_text=class_text, query_text=query_text,
                 image_index=image_index, test_fraction=test_fraction, seed=seed, train=train, test=test)
    kh = min(TOP_K, d.split.test_images.size, d.split.test_texts.size)
    if kh < TOP_K:
        d.notes.append(f"hubness: k = {kh} (the test split is smaller than {TOP_K})")
    if isinstance(mitigations, Mapping):
        items = list(mitigations.items())
    else:
        items = []
        for m in mitigations:
            if isinstance(m, str) and m == "all":
                items.extend((n, n) for n in list_mitigations())
            else:
                items.append((None, m))
    skipped = list(d.skipped)
    rows = []
    fitted: dict[str, Mitigation] = {}
    todo = ([("none", None)] if include_before else []) + items
    for label, m in todo:
        name, obj = _as_mitigation(m)
        rows.append(_score(obj, label or name, d, ks=ks, seed=seed, n_projections=n_projections,
                           skipped=skipped, flip_sigma=flip_sigma))
        if isinstance(obj, Mitigation):
            fitted[label or name] = obj
    result = {
        "n_images": int(d.x.shape[0]),
        "n_texts": int(d.y.shape[0]),
        "dim": int(d.x.shape[1]),
        "split": {**d.split.to_dict(), "test_fraction": test_fraction, "seed": seed},
        "skipped": skipped,
        "notes": d.notes,
        "gap_keys": list(GAP_KEYS),
        "rows": rows,
        "meanings": dict(ROW_KEYS),
    }
    return result, fitted, d.split


def evaluate(image: Any, text: Any, mitigation: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Before/after for one mitigation: :func:`compare` with ``[mitigation]``.

    Returns ``{"before": row, "after": row, "split": ..., "skipped": [...]}`` (``after`` is
    ``None`` when ``mitigation`` is ``None``). Keyword arguments as in :func:`compare`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=(40, 6))
    >>> r = evaluate(z + 1, z - 1, "gap-shift")
    >>> r["after"]["l2m"] < r["before"]["l2m"]
    True
    """
    res = compare(image, text, [] if mitigation is None else [mitigation], **kwargs)
    rows = res.pop("rows")
    return {**res, "before": rows[0], "after": rows[1] if len(rows) > 1 else None}


def published_table(
    name: str = "clip_coco",
    mitigations: Iterable[Any] | Mapping[str, Any] = ("all",),
    *,
    test_fraction: float = 0.5,
    seed: int = 0,
    flip_sigma: float = 0.1,
    keys: Sequence[str] = TABLE_KEYS,
) -> dict[str, Any]:
    """Every fix on a shipped dump, held out: :func:`compare` reduced to :data:`TABLE_KEYS`.

    Loads :func:`gaplab.data.load_published` ``name`` (default the CLIP MS-COCO dump, 500
    one-to-one pairs), splits it by image (``test_fraction``, ``seed``), fits each mitigation
    on the train split (its banks too, for the score-level ones) and reports ``keys`` on the
    test split. Returns ``{"dataset", "split", "keys", "rows": [{"method", key: value}], "text"}``
    where ``text`` is the table as aligned plain text.

    Examples
    --------
    >>> t = published_table(mitigations=["center"])  # doctest: +SKIP
    >>> print(t["text"])  # doctest: +SKIP
    """
    from ..data.published import load_published

    missing = [k for k in keys if k not in ROW_KEYS]
    if missing:
        raise InputError(f"published_table: unknown key {missing[0]!r}; valid: {', '.join(ROW_KEYS)}")
    x, y = load_published(name)
    res = compare(x, y, mitigations, test_fraction=test_fraction, seed=seed, flip_sigma=flip_sigma)
    rows = [{"method": r["method"], **{k: r[k] for k in keys}} for r in res["rows"]]
    width = max(len(r["method"]) for r in rows)
    cols = [max(len(k), 6) for k in keys]
    lines = ["method".ljust(width) + "  " + "  ".join(k.rjust(c) for k, c in zip(keys, cols, strict=True))]
    for r in rows:
        cells = ["-" if r[k] is None else f"{r[k]:.3f}" for k in keys]
        lines.append(r["method"].ljust(width) + "  " + "  ".join(v.rjust(c) for v, c in zip(cells, cols, strict=True)))
    return {"dataset": name, "split": res["split"], "keys": list(keys), "rows": rows, "notes": res["notes"],
            "text": "\n".join(lines)}
