"""Write gaplab results in formats other tools read: CLIP_benchmark JSON, embedding-viewer parquet.

* :func:`clip_benchmark_json` shapes a :func:`gaplab.measure` (or
  :func:`gaplab.metrics.retrieval_recall`) result like the JSON that LAION's CLIP_benchmark
  writes for its ``zeroshot_retrieval`` task, so gaplab numbers sit in the same tables.
* :func:`viewer_table` / :func:`export_viewer` project both modalities to 2-D (PCA, or UMAP
  with the ``umap`` extra) and write one row per embedding (``x``, ``y``, ``modality``,
  ``pair_id``, ``caption``) to a parquet file that embedding viewers (Embedding Atlas,
  Nomic Atlas, Lilac, a pandas notebook) open directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from .._validation import check_pair, normalize_rows
from ._formats import as_path

__all__ = ["clip_benchmark_json", "viewer_table", "export_viewer", "VIEWER_COLUMNS", "VIEWER_METHODS"]

#: the columns :func:`viewer_table` returns, in order
VIEWER_COLUMNS = ("x", "y", "modality", "pair_id", "index", "caption")
#: the 2-D projections :func:`viewer_table` knows
VIEWER_METHODS = ("pca", "umap")

_RECALL = re.compile(r"^(i2t|t2i)_r(\d+)$")
#: gaplab's scalar gap metrics copied under "gaplab" when present (not CLIP_benchmark metrics)
_GAP_KEYS = ("l2m", "rmg", "l2i", "mean_cos_paired", "mean_cos_cross", "mean_cos_image", "mean_cos_text",
             "linear_separability", "uniformity_image", "uniformity_text", "n_pairs", "n_images", "n_texts", "dim")


def clip_benchmark_json(
    result: Mapping[str, Any],
    *,
    dataset: str,
    model: str,
    pretrained: str,
    language: str = "en",
    include_gap: bool = True,
) -> dict[str, Any]:
    """A retrieval result shaped like CLIP_benchmark's ``zeroshot_retrieval`` JSON.

    CLIP_benchmark (LAION-AI/CLIP_benchmark, ``clip_benchmark/cli.py``) dumps
    ``{"dataset", "model", "pretrained", "task", "metrics", "language"}`` with, for each K,
    ``metrics["image_retrieval_recall@K"]`` (a *text* queries the images: gaplab's
    ``t2i_rK``) and ``metrics["text_retrieval_recall@K"]`` (an *image* queries the texts,
    a hit when any of its captions is in the top K: gaplab's ``i2t_rK``), as fractions in
    [0, 1]; ``clip_benchmark/metrics/zeroshot_retrieval.py`` computes them the way
    :func:`gaplab.metrics.retrieval_recall` does, so the numbers are comparable.

    Parameters
    ----------
    result : mapping
        A :func:`gaplab.measure` result (or ``gaplab measure --json`` output), or a
        :func:`gaplab.metrics.retrieval_recall` dict: anything with ``i2t_rK`` / ``t2i_rK`` keys.
    dataset, model, pretrained : str
        What CLIP_benchmark records under those keys (e.g. ``"mscoco_captions"``,
        ``"ViT-B-32"``, ``"openai"``).
    language : str
        CLIP_benchmark's ``language`` field (default ``"en"``).
    include_gap : bool
        Also copy gaplab's scalar gap metrics (``l2m``, ``rmg``, ...) present in ``result``
        under a separate top-level ``"gaplab"`` key; ``metrics`` holds only CLIP_benchmark's keys.

    Returns
    -------
    dict
        JSON-ready; ``json.dump`` it to a file.

    Raises
    ------
    InputError
        When ``result`` has no ``i2t_rK``/``t2i_rK`` key, a recall is not a number in
        [0, 1], or a name is not a non-empty string.

    Examples
    --------
    >>> r = {"i2t_r1": 0.5, "t2i_r1": 0.25, "i2t_r5": 1.0, "t2i_r5": 0.75, "l2m": 0.8}
    >>> out = clip_benchmark_json(r, dataset="mscoco_captions", model="ViT-B-32", pretrained="openai")
    >>> out["task"], out["metrics"]
    ('zeroshot_retrieval', {'image_retrieval_recall@1': 0.25, 'text_retrieval_recall@1': 0.5, 'image_retrieval_recall@5': 0.75, 'text_retrieval_recall@5': 1.0})
    >>> out["gaplab"]["l2m"]
    0.8
    """
    if not isinstance(result, Mapping):
        raise InputError(f"clip_benchmark_json: result must be a dict (a gaplab.measure result), got {type(result).__name__}")
    for name, v in (("dataset", dataset), ("model", model), ("pretrained", pretrained), ("language", language)):
        if not isinstance(v, str) or not v:
            raise InputError(f"clip_benchmark_json: {name} must be a non-empty string, got {v!r}")
    found: dict[int, dict[str, float]] = {}
    for key, value in result.items():
        m = _RECALL.match(str(key))
        if not m:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not 0.0 <= float(value) <= 1.0:
            raise InputError(f"clip_benchmark_json: {key} must be a recall in [0, 1], got {value!r}")
        found.setdefault(int(m.group(2)), {})[m.group(1)] = float(value)
    if not found:
        raise InputError(
            "clip_benchmark_json: result has no retrieval recalls (i2t_rK / t2i_rK keys); "
            "measure with the pairwise metrics (not --fast) or pass gaplab.metrics.retrieval_recall(...)"
        )
    metrics: dict[str, float] = {}
    for k in sorted(found):
        if "t2i" in found[k]:
            metrics[f"image_retrieval_recall@{k}"] = found[k]["t2i"]
        if "i2t" in found[k]:
            metrics[f"text_retrieval_recall@{k}"] = found[k]["i2t"]
    out: dict[str, Any] = {"dataset": dataset, "model": model, "pretrained": pretrained,
                           "task": "zeroshot_retrieval", "metrics": metrics, "language": language}
    if include_gap:
        gap = {k: _plain(result[k]) for k in _GAP_KEYS if k in result and _is_number(result[k])}
        if gap:
            out["gaplab"] = gap
    return out


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float, np.floating, np.integer))


def _plain(v: Any) -> float | int:
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


def _project(joint: np.ndarray, method: str, seed: int) -> np.ndarray:
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise InputError("export-viewer: --method umap needs umap-learn: pip install 'gaplab[umap]'") from None
        import warnings

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded on purpose
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(joint))
    # PCA from the d×d covariance (memory O(d²) beside the rows, not an (N, d) SVD factor);
    # signs fixed (largest |loading| positive) so runs agree
    centred = joint - joint.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    comps = vecs[:, ::-1][:, :2].T  # the two largest eigenvalues first
    flip = np.sign(comps[np.arange(comps.shape[0]), np.argmax(np.abs(comps), axis=1)])
    z = centred @ (comps * flip[:, None]).T
    if z.shape[1] < 2:  # d = 1: a second axis of zeros
        z = np.hstack([z, np.zeros((z.shape[0], 2 - z.shape[1]))])
    return z


def viewer_table(
    image: Any,
    text: Any,
    *,
    method: str = "pca",
    captions: Sequence[str | None] | None = None,
    image_index: Any = None,
    normalize: bool = True,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Both modalities in 2-D, one row per embedding: the table :func:`export_viewer` writes.

    The projection is fitted on the joint set [x̂; ŷ] (rows L2-normalised unless
    ``normalize=False``, as the gap metrics see them), so the gap shows as two clouds.

    Parameters
    ----------
    image : array of shape (N, d)
    text : array of shape (N, d), or (K, d) with ``image_index``
    method : {"pca", "umap"}
        PCA (numpy SVD, deterministic) or UMAP (needs the ``umap`` extra; seeded).
    captions : sequence of str, optional
        One caption per text row. Image rows get the caption of their (first) text.
    image_index : array of int, optional
        Caption k describes image ``image_index[k]`` (several captions per image).
    normalize : bool
        L2-normalise rows before projecting (default).
    seed : int
        UMAP's ``random_state``.

    Returns
    -------
    dict of str to numpy array
        :data:`VIEWER_COLUMNS`: ``x``, ``y`` (float32), ``modality`` (``"image"``/``"text"``),
        ``pair_id`` (the image row a row belongs to), ``index`` (the row within its modality),
        ``caption`` (object array, ``None`` where unknown). Image rows come first.

    Raises
    ------
    InputError
        For bad embeddings (see :func:`gaplab.measure`), an unknown method, a missing
        ``umap`` extra, or a captions list of the wrong length.

    Examples
    --------
    >>> t = viewer_table([[1.0, 0.0], [0.9, 0.1]], [[0.0, 1.0], [0.1, 0.9]], captions=["a", "b"])
    >>> list(t["modality"]), t["pair_id"].tolist(), list(t["caption"])
    (['image', 'image', 'text', 'text'], [0, 1, 0, 1], ['a', 'b', 'a', 'b'])
    """
    if method not in VIEWER_METHODS:
        raise InputError(f"export-viewer: method must be one of {', '.join(VIEWER_METHODS)}, got {method!r}")
    xa, ya, idx = check_pair(image, text, where="export-viewer", image_index=image_index)
    n, k = xa.shape[0], ya.shape[0]
    caps: list[str | None] | None = None
    if captions is not None:
        caps = [None if c is None else str(c) for c in captions]
        if len(caps) != k:
            raise InputError(f"export-viewer: {len(caps)} captions for {k} text rows; give one caption per text row")
    joint = np.vstack([xa, ya]).astype(np.float64)
    if normalize:
        joint = normalize_rows(joint)
    z = _project(joint, method, seed).astype(np.float32)
    text_pair = np.arange(k) if idx is None else np.asarray(idx, dtype=np.int64)
    caption = np.full(n + k, None, dtype=object)
    if caps is not None:
        caption[n:] = caps
        first = np.full(n, -1, dtype=np.int64)
        for j in range(k - 1, -1, -1):  # the first caption of each image wins
            first[text_pair[j]] = j
        caption[:n] = [caps[j] if j >= 0 else None for j in first]
    return {
        "x": np.ascontiguousarray(z[:, 0]),
        "y": np.ascontiguousarray(z[:, 1]),
        "modality": np.array(["image"] * n + ["text"] * k, dtype=object),
        "pair_id": np.concatenate([np.arange(n), text_pair]).astype(np.int64),
        "index": np.concatenate([np.arange(n), np.arange(k)]).astype(np.int64),
        "caption": caption,
    }


def export_viewer(
    path: str | os.PathLike[str],
    image: Any,
    text: Any,
    *,
    method: str = "pca",
    captions: Sequence[str | None] | None = None,
    image_index: Any = None,
    normalize: bool = True,
    seed: int = 0,
) -> Path:
    """Write :func:`viewer_table` to a parquet file (atomically) and return its path.

    Needs pyarrow (the ``io`` extra). The file has the columns :data:`VIEWER_COLUMNS`;
    ``pandas.read_parquet(path)`` or any embedding viewer that takes a table with 2-D
    coordinates opens it.

    Raises
    ------
    InputError
        As :func:`viewer_table`; also when ``path`` does not end in ``.parquet`` or pyarrow
        is missing.
    """
    p = as_path(path, what="export-viewer: --out")
    if p.suffix.lower() != ".parquet":
        raise InputError(f"export-viewer: {p} must end in .parquet")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("export-viewer: writing parquet needs pyarrow: pip install 'gaplab[io]'") from None
    t = viewer_table(image, text, method=method, captions=captions, image_index=image_index,
                     normalize=normalize, seed=seed)
    table = pa.table({
        "x": pa.array(t["x"], type=pa.float32()),
        "y": pa.array(t["y"], type=pa.float32()),
        "modality": pa.array(list(t["modality"]), type=pa.string()),
        "pair_id": pa.array(t["pair_id"], type=pa.int64()),
        "index": pa.array(t["index"], type=pa.int64()),
        "caption": pa.array(list(t["caption"]), type=pa.string()),
    })
    table = table.replace_schema_metadata({"gaplab.method": method, "gaplab.normalize": str(normalize)})
    return atomic_write(p, lambda tmp: pq.write_table(table, tmp))
