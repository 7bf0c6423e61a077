"""What ``gaplab mitigate`` does, as library calls: choose, fit, measure, write.

:func:`resolve_mitigations` turns method names, ``NAME=VALUE`` parameters and a sweep into
unfitted objects (one per table row); :func:`run_mitigation` fits them and measures the gap
in-sample, or — with ``eval=True`` — runs the held-out protocol of
:func:`~gaplab.mitigate.compare`; :func:`write_mitigated` writes the transformed pairs file.
The CLI only parses its options, calls these and prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, InputError
from ..io import Pairs, load_pairs, save_pairs
from ..metrics import l2i, l2m, linear_separability, residual_gap, rmg
from ..metrics.functional.distance import sliced_wasserstein
from .base import Mitigation, clone, create_mitigation, get_mitigation, list_mitigations
from .evaluate import GAP_KEYS, ROW_KEYS, Split, _compare

__all__ = ["MitigationResult", "resolve_mitigations", "run_mitigation", "write_mitigated"]

#: the protocol line of each mode
IN_SAMPLE = "in-sample: fit and measured on the same pairs (use --eval for held-out task metrics)"
HELD_OUT = "fit on the train split, every metric on the held-out test split"


@dataclass(frozen=True)
class MitigationResult:
    """What :func:`run_mitigation` returns.

    Attributes
    ----------
    table : dict
        JSON-ready: ``protocol``, sizes, ``rows`` (one per method, ``"none"`` first; keys
        :data:`~gaplab.mitigate.ROW_KEYS`), ``meanings``, ``skipped``; with ``eval=True``
        also ``split``, ``notes`` and ``gap_keys`` (as :func:`~gaplab.mitigate.compare`).
    fitted : dict
        Row label → the mitigation as fitted for that row: on the train split with
        ``eval=True``, on all pairs otherwise.
    split : Split or None
        The held-out split (``eval=True`` only).
    class_text : array (C, d), "train-captions" or None
        The class prompts used (given, or the pairs file's ``class_text`` entry).
    """

    table: dict[str, Any]
    fitted: dict[str, Mitigation] = field(default_factory=dict)
    split: Split | None = None
    class_text: Any = None


def _label(name: str, params: Mapping[str, Any]) -> str:
    """A row label: ``name`` or ``name(k=v,...)``."""
    if not params:
        return name
    return name + "(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")"


def _names(method: Any) -> list[str | Mitigation]:
    """Method names (comma-separated, ``"all"`` expanded, repeats dropped) and objects, in order."""
    if isinstance(method, (str, Mitigation)):
        items = [method]
    elif isinstance(method, Iterable):
        items = list(method)
    else:
        raise InputError(f"mitigate: method must be a name, a Mitigation or a list of them, got {type(method).__name__}")
    out: list[str | Mitigation] = []
    for m in items:
        if isinstance(m, Mitigation):
            out.append(m)
            continue
        if not isinstance(m, str):
            raise InputError(f"mitigate: a method must be a name or a Mitigation, got {type(m).__name__}")
        for part in m.split(","):
            part = part.strip()
            if part == "all":
                out.extend(n for n in list_mitigations() if n not in out)
            elif part and part not in out:
                get_mitigation(part)  # unknown names fail here, with the valid list
                out.append(part)
    return out


def _route_params(params: Mapping[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """``{"k": v}`` (every chosen method that has k) and ``{"method.k": v}`` → per-method kwargs.

    ``METHOD.NAME`` beats ``NAME`` for that method, whatever the order.
    """
    out: dict[str, dict[str, Any]] = {m: {} for m in names}
    targeted: set[tuple[str, str]] = set()
    for raw, value in params.items():
        key, target = raw.strip(), names
        is_targeted = "." in key
        if is_targeted:
            method, key = key.split(".", 1)
            if method not in out:
                raise ConfigError(f"mitigate: parameter {raw!r}: method {method!r} is not among {', '.join(names)}")
            target = [method]
        takers = [m for m in target if key in get_mitigation(m)._param_names()]
        if not takers:
            valid = sorted({p for m in target for p in get_mitigation(m)._param_names()})
            raise ConfigError(
                f"mitigate: parameter {raw!r}: no parameter {key!r} in {', '.join(target)}; "
                f"valid: {', '.join(valid) or '(none)'}"
            )
        for m in takers:
            if is_targeted:
                targeted.add((m, key))
            elif (m, key) in targeted:
                continue
            out[m][key] = value
    return out


def resolve_mitigations(
    method: Any = "center",
    params: Mapping[str, Any] | None = None,
    *,
    sweep: tuple[str, Sequence[Any]] | None = None,
) -> dict[str, Mitigation]:
    """Unfitted mitigations, one per table row: row label → object.

    Parameters
    ----------
    method : str, Mitigation, a list of them, or a mapping label → either
        Names may be comma-separated; ``"all"`` is every registered method. Objects are
        cloned (their fitted state is never reused). Unknown names raise
        :class:`~gaplab.UnknownNameError` listing the valid ones.
    params : mapping, optional
        ``{"k": v}`` goes to every chosen method that has a parameter ``k``; ``{"m.k": v}``
        to method ``m`` only (and beats ``k`` there). Only with method names.
    sweep : (name, values), optional
        One row per value of parameter ``name`` of the single chosen method.

    Examples
    --------
    >>> list(resolve_mitigations("center,noise", {"renormalize": False, "noise.std": 0.2}))
    ['center(renormalize=False)', 'noise(renormalize=False,std=0.2)']
    >>> list(resolve_mitigations("gap-shift", sweep=("alpha", [0, "auto"])))
    ['gap-shift(alpha=0)', 'gap-shift(alpha=auto)']
    """
    if isinstance(method, Mapping):
        if params or sweep is not None:
            raise ConfigError("mitigate: params and sweep apply to method names, not to a mapping of mitigations")
        return {str(label): _instance(m) for label, m in method.items()}
    chosen = _names(method)
    names = [m for m in chosen if isinstance(m, str)]
    if len(names) != len(chosen) and (params or sweep is not None):
        raise ConfigError("mitigate: params and sweep apply to method names, not to Mitigation objects")
    per_method = _route_params(params or {}, names)
    if sweep is not None:
        if len(chosen) != 1:
            raise ConfigError(f"mitigate: a sweep needs exactly one method, got {len(chosen)}: {', '.join(names)}")
        key, values = sweep
        key = str(key).strip()
        todo = {}
        for v in values:
            kw = {**per_method[names[0]], key: v}
            todo[_label(names[0], {key: v})] = create_mitigation(names[0], **kw)
        return todo
    out: dict[str, Mitigation] = {}
    for m in chosen:
        if isinstance(m, str):
            out[_label(m, per_method[m])] = create_mitigation(m, **per_method[m])
        else:
            out[m.name or type(m).__name__] = clone(m)
    return out


def _instance(m: Any) -> Mitigation:
    if isinstance(m, Mitigation):
        return clone(m)
    if isinstance(m, str):
        return create_mitigation(m)
    raise InputError(f"mitigate: a method must be a name or a Mitigation, got {type(m).__name__}")


def _is_array(v: Any) -> bool:
    return v is not None and not isinstance(v, str)


def _as_pairs(pairs: Any) -> Pairs:
    if isinstance(pairs, Pairs):
        return pairs
    if isinstance(pairs, (str, os.PathLike)):
        return load_pairs(pairs)
    raise InputError(f"mitigate: pairs must be a gaplab.io.Pairs or a pairs file path, got {type(pairs).__name__}")


def _query_kw(m: Mitigation, class_text: Any) -> dict[str, Any]:
    """``query_text=class_text`` for methods that take it, when there are class prompts."""
    return {"query_text": class_text} if "query_text" in m.fit_params and _is_array(class_text) else {}


def run_mitigation(
    pairs: Pairs | str | os.PathLike[str],
    method: Any = "center",
    params: Mapping[str, Any] | None = None,
    *,
    sweep: tuple[str, Sequence[Any]] | None = None,
    eval: bool = False,
    labels: Any = None,
    class_text: Any = None,
    test_fraction: float = 0.5,
    seed: int = 0,
) -> MitigationResult:
    """Fit post-hoc gap fixes and tabulate the gap (and, with ``eval=True``, the tasks) before and after.

    Without ``eval`` each method is fit on all pairs and the gap metrics (L2M, RMG, L2I,
    sliced Wasserstein of the centred modalities, linear separability) are measured on the
    same pairs: in-sample, so they flatter the method. With ``eval=True`` the pairs are split
    by image (``test_fraction``, ``seed``), each method is fit on the train split only and
    every gap and task metric is computed on the held-out test split
    (:func:`~gaplab.mitigate.compare`).

    Parameters
    ----------
    pairs : Pairs or path
        Paired embeddings (:func:`gaplab.load_pairs`); ``image_index``, ``labels`` and
        ``class_text`` entries are used.
    method, params, sweep
        The rows, see :func:`resolve_mitigations`.
    eval : bool, default False
        Held-out protocol instead of in-sample gap metrics.
    labels : int array (N,), optional
        Class of each image (default: the pairs file's ``labels``); for zero-shot, probes, k-means.
    class_text : array (C, d) or "train-captions", optional
        Class prompt embeddings (default: the pairs file's ``class_text``), also the
        ``query_text`` of methods that take one; see :func:`~gaplab.mitigate.compare`.
    test_fraction, seed
        Share of images held out; seed of the split and of the seeded metrics.

    Returns
    -------
    MitigationResult
        ``table`` (what ``gaplab mitigate --json`` prints), ``fitted`` (row label → fitted
        mitigation), ``split``, ``class_text``.

    Examples
    --------
    >>> from gaplab.io import Pairs
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(40, 6))
    >>> res = run_mitigation(Pairs(z + 1, z - 1), "center")
    >>> [(r["method"], round(r["l2m"], 2)) for r in res.table["rows"]]  # in-sample
    [('none', 1.39), ('center', 0.17)]
    >>> res.fitted["center"].is_fitted()
    True
    """
    todo = resolve_mitigations(method, params, sweep=sweep)
    p = _as_pairs(pairs)
    x = np.asarray(p.image)
    y = np.asarray(p.text)
    if labels is None:
        labels = p.meta.get("labels")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
            raise InputError(
                f"mitigate: labels must hold one class id per image ({x.shape[0]}), got shape {labels.shape}"
            )
    if class_text is None:
        class_text = p.meta.get("class_text")
    elif isinstance(class_text, str) and class_text != "train-captions":
        raise InputError(f"mitigate: class_text must be a (C, d) array or 'train-captions', got {class_text!r}")
    if eval:
        table, fitted, split = _compare(
            x, y, todo, labels=labels, class_text=class_text, query_text=None, image_index=p.image_index,
            test_fraction=test_fraction, seed=seed, train=None, test=None, ks=(1, 5, 10),
            n_projections=128, include_before=True,
        )
        table["protocol"] = HELD_OUT
        return MitigationResult(table, fitted, split, class_text)
    idx = p.image_index
    rows = []
    fitted = {}
    for label, m in [("none", None), *todo.items()]:
        if m is None:
            xa, ya, par = x, y, {}
        else:
            m.fit(x, y, image_index=idx, **_query_kw(m, class_text))
            xa, ya = m.transform(x, y)
            par = m.get_params()
            fitted[label] = m
        rows.append({
            "method": label, "params": par,
            "l2m": l2m(xa, ya, image_index=idx), "rmg": rmg(xa, ya, image_index=idx),
            "residual_gap": residual_gap(xa, ya, image_index=idx),
            "l2i": l2i(xa, ya, image_index=idx), "sw": sliced_wasserstein(xa, ya, seed=seed),
            "linear_separability": linear_separability(xa, ya, image_index=idx, seed=seed),
        })
    skipped = ["task metrics: run with --eval"]
    rescoring = [label for label, m in todo.items() if m.score_level]
    if rescoring:
        skipped.append(f"{', '.join(rescoring)}: score-level (re-scores retrieval, keeps the embeddings, "
                       "so the gap is unchanged); their effect shows in --eval")
    table = {
        "n_images": int(x.shape[0]), "n_texts": int(y.shape[0]), "dim": int(x.shape[1]),
        "protocol": IN_SAMPLE, "skipped": skipped, "rows": rows,
        "meanings": {k: ROW_KEYS[k] for k in ("method", *GAP_KEYS)},
    }
    return MitigationResult(table, fitted, None, class_text)


def write_mitigated(
    pairs: Pairs | str | os.PathLike[str],
    fitted: Mitigation,
    path: str | os.PathLike[str],
    *,
    class_text: Any = None,
    split: Split | None = None,
) -> Path:
    """Write ``pairs`` transformed by the fitted mitigation ``fitted`` as a ``.npz`` pairs file.

    Every image and text row is transformed (train and test alike); the pairs file's other
    entries (``labels``, ``ids``, ...) are carried over. ``class_text`` (default: the pairs
    file's entry; ``"train-captions"`` = none to write) is written transformed as query text
    (:meth:`MultiMean.transform_query` where the method has it). With ``split`` an
    ``is_test`` entry (int8, 1 = held out) marks the rows the method was not fit on. A
    ``mitigation`` entry holds ``{"method": ..., "params": ...}`` as JSON. Returns the path.

    Examples
    --------
    >>> import tempfile
    >>> from gaplab.io import Pairs, load_pairs
    >>> from gaplab.mitigate import Center
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(20, 4))
    >>> m = Center().fit(z + 1, z - 1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = load_pairs(write_mitigated(Pairs(z + 1, z - 1), m, f"{d}/fixed.npz"))
    >>> out.text.shape, json.loads(str(out.meta["mitigation"]))["method"]
    ((20, 4), 'center')
    """
    p = _as_pairs(pairs)
    x = np.asarray(p.image)
    extra: dict[str, Any] = {k: v for k, v in p.meta.items() if k != "class_text"}
    ct = p.meta.get("class_text") if class_text is None else class_text
    if _is_array(ct):
        extra["class_text"] = getattr(fitted, "transform_query", fitted.transform_text)(ct)
    if split is not None:
        is_test = np.ones(x.shape[0], dtype=np.int8)
        is_test[split.train_images] = 0
        extra["is_test"] = is_test
    extra["mitigation"] = json.dumps({"method": fitted.name, "params": fitted.get_params()})
    return save_pairs(path, fitted.transform_image(x), fitted.transform_text(np.asarray(p.text)),
                      image_index=p.image_index, **extra)
