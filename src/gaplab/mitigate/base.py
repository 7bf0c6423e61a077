"""The fit/transform contract every mitigation follows (after scikit-learn's ``BaseEstimator``).

* ``__init__`` only stores its keyword arguments; :meth:`Mitigation.get_params` reads them off
  the signature, :func:`clone` rebuilds from them.
* ``fit(image_emb, text_emb, image_index=None)`` validates, learns state in attributes
  ending in ``_`` and returns ``self`` (``image_index[k]`` = the image of caption k, for
  several captions per image; every method takes it); ``transform_image`` / ``transform_text`` raise
  :class:`~gaplab.NotFittedError` before ``fit`` and re-check the width against it.
* :meth:`Mitigation.save` / :func:`load_mitigation` write and read the parameters and fitted
  state as ``.npz`` (arrays + a JSON header) or ``.json``; never pickle.

Every mitigation works on L2-normalised rows (as every gap metric does) and returns
L2-normalised rows unless its ``renormalize`` parameter is switched off.

Retrieval goes through :meth:`Mitigation.similarity` (queries × gallery scores, larger =
better). Embedding-level methods inherit the default, the cosine of the transformed rows;
score-level methods (``score_level = True``: ``csls``, ``qb-norm``, ``db-norm``) leave the
embeddings as they are (``transform_*`` only normalise) and override ``_similarity`` to
re-score against banks of train-split rows. :func:`gaplab.mitigate.compare` ranks with it for
R@K, hubness, mixed-modality search and the flip rate.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._errors import ConfigError, InputError, NotFittedError
from .._fs import atomic_write
from .._registry import Registry, check_options
from .._validation import check_embeddings, check_image_index, check_pair, normalize_rows
from ..metrics import gap_vector

__all__ = [
    "Mitigation",
    "MITIGATIONS",
    "register_mitigation",
    "list_mitigations",
    "get_mitigation",
    "create_mitigation",
    "clone",
    "load_mitigation",
]

#: name → Mitigation subclass
MITIGATIONS: Registry[type[Mitigation]] = Registry("mitigation")

_FORMAT = "gaplab.mitigation/1"


def register_mitigation(name: str) -> Callable[[type[Mitigation]], type[Mitigation]]:
    """Class decorator: register a :class:`Mitigation` subclass under ``name`` (sets ``cls.name``)."""

    def deco(cls: type[Mitigation]) -> type[Mitigation]:
        cls.name = name
        return MITIGATIONS.register(name)(cls)

    return deco


def list_mitigations(filter: str | None = None) -> list[str]:
    """Names of the registered mitigations, sorted (wildcards allowed, e.g. ``"*shift"``).

    >>> list_mitigations()
    ['c3', 'center', 'csls', 'db-norm', 'gap-shift', 'i0t', 'multi-mean', 'noise', 'orthogonal-shift', 'ot', 'procrustes', 'qb-norm', 'realign', 'remove-dims']
    >>> list_mitigations("*-norm")
    ['db-norm', 'qb-norm']
    """
    return MITIGATIONS.list(filter)


def get_mitigation(name: str) -> type[Mitigation]:
    """The mitigation class registered as ``name``; unknown names list the valid ones.

    >>> get_mitigation("center")(renormalize=False).get_params()
    {'renormalize': False}
    """
    return MITIGATIONS.get(name)


def create_mitigation(name: str, **params: Any) -> Mitigation:
    """``get_mitigation(name)(**params)``, with a clear error for unknown parameters.

    Parameters left ``None`` are dropped so the defaults stand (timm's ``create_model``).

    >>> create_mitigation("gap-shift", alpha=0.5)
    GapShift(alpha=0.5, renormalize=True)
    """
    cls = get_mitigation(name)
    check_options(params, cls._param_names(), f"mitigation {name!r}")  # before None is dropped
    return cls(**{k: v for k, v in params.items() if v is not None})


def clone(m: Mitigation) -> Mitigation:
    """A new, unfitted mitigation with the same parameters (scikit-learn's ``clone``)."""
    return type(m)(**m.get_params())


class Mitigation:
    """Base class: a post-hoc transform of image and text embeddings that narrows the gap.

    Subclasses implement ``_fit(x, y, image_index)`` (on normalised rows, setting attributes
    ending in ``_``), ``_transform_image(x)`` and ``_transform_text(y)``.
    """

    #: registry name, set by :func:`register_mitigation`
    name: ClassVar[str] = ""
    #: the paper(s) the method comes from
    paper: ClassVar[str] = ""
    #: True when ``fit`` needs matched pairs (same N, or ``image_index``)
    needs_pairs: ClassVar[bool] = False
    #: True when the method re-scores (overrides ``_similarity``) instead of moving embeddings
    score_level: ClassVar[bool] = False

    # -- parameters --------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` keyword arguments and their current values."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Mitigation:
        """Change parameters (unknown names raise :class:`~gaplab.ConfigError`); returns ``self``."""
        check_options(params, self._param_names(), f"mitigation {self.name!r}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state ------------------------------------------------------------------------
    def _state_names(self) -> list[str]:
        return sorted(k for k in vars(self) if k.endswith("_") and not k.startswith("_"))

    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has completed (``n_features_in_``, set last, exists)."""
        return "n_features_in_" in vars(self)

    def _check_is_fitted(self, where: str) -> None:
        if not self.is_fitted():
            raise NotFittedError(
                f"{self.name}.{where}: this {type(self).__name__} is not fitted yet; "
                "call fit(image_emb, text_emb) first"
            )

    def _check_width(self, a: np.ndarray, name: str, where: str) -> None:
        if a.shape[1] != self.n_features_in_:
            raise InputError(
                f"{self.name}.{where}: {name} has {a.shape[1]} features, but "
                f"{type(self).__name__} was fitted with {self.n_features_in_}"
            )

    # -- the contract ------------------------------------------------------------------------
    #: extra keyword arguments ``fit`` accepts (e.g. ``query_text`` for ``multi-mean``)
    fit_params: ClassVar[tuple[str, ...]] = ()

    def fit(
        self, image_emb: Any, text_emb: Any = None, *, image_index: Any = None, **fit_params: Any
    ) -> Mitigation:
        """Learn the transform from image embeddings (N, d) and text embeddings (K, d).

        Rows are L2-normalised first. ``image_index`` (K,) maps caption k to image
        ``image_index[k]`` (several captions per image, e.g. COCO's 5); every method accepts
        it and validates it against N and K. Methods with ``needs_pairs`` need it, or row i of
        each to be a pair. Returns ``self``.
        """
        where = f"{self.name}.fit"
        bad = [k for k in fit_params if k not in self.fit_params]
        if bad:
            raise ConfigError(
                f"{where}: unexpected fit argument {bad[0]!r}; "
                f"this method takes {', '.join(self.fit_params) or 'no extra arguments'}"
            )
        if text_emb is None:
            raise InputError(
                f"{where}: needs both image and text embeddings, got only image_emb; "
                "call fit(image_emb, text_emb)"
            )
        if self.needs_pairs:
            x, y, idx = check_pair(image_emb, text_emb, where=where, image_index=image_index)
        else:
            x = check_embeddings(image_emb, name="image_emb", where=where)
            y = check_embeddings(text_emb, name="text_emb", where=where)
            if x.shape[1] != y.shape[1]:
                raise InputError(
                    f"{where}: image_emb and text_emb need the same dimension d, got {x.shape} and {y.shape}"
                )
            # unpaired methods still get the caption -> image index when there is one
            idx = None if image_index is None else check_image_index(
                image_index, x.shape[0], y.shape[0], where=where
            )
        for k in self._state_names():  # refitting starts from scratch
            delattr(self, k)
        x64 = normalize_rows(x.astype(np.float64))
        y64 = normalize_rows(y.astype(np.float64))
        extra = {}
        for k, v in fit_params.items():
            if v is not None:
                a = check_embeddings(v, name=k, where=where, min_rows=1)
                if a.shape[1] != x.shape[1]:
                    raise InputError(f"{where}: {k} has {a.shape[1]} features, image_emb has {x.shape[1]}")
                extra[k] = normalize_rows(a.astype(np.float64))
        try:
            self._fit(x64, y64, idx, **extra)
        except BaseException:
            for k in self._state_names():  # no half-fitted object
                delattr(self, k)
            raise
        self.n_features_in_ = int(x.shape[1])
        return self

    def _prepare(self, a: Any, name: str, where: str) -> tuple[np.ndarray, np.dtype]:
        self._check_is_fitted(where)
        arr = check_embeddings(a, name=name, where=f"{self.name}.{where}", min_rows=1)
        self._check_width(arr, name, where)
        return normalize_rows(arr.astype(np.float64)), arr.dtype

    def transform_image(self, x: Any) -> np.ndarray:
        """Transformed image embeddings (same shape and float dtype as ``x``)."""
        a, dtype = self._prepare(x, "x", "transform_image")
        return self._transform_image(a).astype(dtype, copy=False)

    def transform_text(self, y: Any) -> np.ndarray:
        """Transformed text embeddings (same shape and float dtype as ``y``)."""
        a, dtype = self._prepare(y, "y", "transform_text")
        return self._transform_text(a).astype(dtype, copy=False)

    def similarity(
        self, queries: Any, gallery: Any, *, query_modality: str = "text", gallery_modality: Any = "image"
    ) -> np.ndarray:
        r"""Retrieval scores (Q, G) of each query against each gallery row; larger ranks first.

        .. math:: s(q, g) = \langle T_{m(q)}(\hat q),\, T_{m(g)}(\hat g)\rangle

        for embedding-level methods (:math:`T` = ``transform_image`` / ``transform_text``);
        score-level methods (``score_level``) replace it by their re-scoring. Only the
        order of one query's scores is meant to be compared (several methods add a per-query
        constant).

        Parameters
        ----------
        queries : array (Q, d)
            Query embeddings, all of ``query_modality``.
        gallery : array (G, d)
            Gallery embeddings.
        query_modality : {"text", "image"}, default "text"
        gallery_modality : "image", "text" or a sequence of them (one per gallery row)
            Per-row modalities make a mixed corpus (images and texts in one list).

        Examples
        --------
        >>> from gaplab.mitigate import Center
        >>> m = Center(renormalize=False).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])
        >>> m.similarity([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])
        array([[ 0.5, -0.5]])
        """
        where = "similarity"
        q, _ = self._prepare(queries, "queries", where)
        g, _ = self._prepare(gallery, "gallery", where)
        if query_modality not in ("image", "text"):
            raise InputError(
                f"{self.name}.similarity: query_modality must be 'image' or 'text', got {query_modality!r}"
            )
        is_text = _modality_mask(gallery_modality, g.shape[0], f"{self.name}.similarity")
        return self._similarity(q, g, query_modality == "text", is_text)

    def _similarity(self, q: np.ndarray, g: np.ndarray, query_is_text: bool, is_text: np.ndarray) -> np.ndarray:
        """Hook of :meth:`similarity` on normalised float64 rows; default: cosine of the transformed rows."""
        tq = self._transform_text(q) if query_is_text else self._transform_image(q)
        tg = np.empty_like(g)
        if is_text.any():
            tg[is_text] = self._transform_text(g[is_text])
        if (~is_text).any():
            tg[~is_text] = self._transform_image(g[~is_text])
        return np.asarray(tq, dtype=np.float64) @ np.asarray(tg, dtype=np.float64).T

    def transform(self, image_emb: Any, text_emb: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(transform_image(image_emb), transform_text(text_emb))``."""
        return self.transform_image(image_emb), self.transform_text(text_emb)

    def fit_transform(
        self, image_emb: Any, text_emb: Any = None, *, image_index: Any = None, **fit_params: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """``fit`` then ``transform`` on the same data (fine for exploring; evaluate on held-out data)."""
        self.fit(image_emb, text_emb, image_index=image_index, **fit_params)
        return self.transform(image_emb, text_emb)

    # -- hooks -------------------------------------------------------------------------------
    def _fit(self, x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None, **extra: np.ndarray) -> None:
        raise NotImplementedError

    def _transform_image(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _transform_text(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _gap_vector(x: np.ndarray, y: np.ndarray, image_index: np.ndarray | None) -> np.ndarray:
        """Δ = mean(x̂) − mean(ŷ) of the fitting rows (:func:`gaplab.metrics.gap_vector`).

        With ``image_index`` (caption k → image ``image_index[k]``) the rows are paired through
        it; without it and with different N the two sets are unpaired, which the centroid
        difference does not need either.
        """
        if image_index is None and x.shape[0] != y.shape[0]:
            # unpaired sets: the same centroid difference gap_vector computes (gap_vector
            # itself insists on pairs, which the centroids do not use)
            return normalize_rows(x).mean(axis=0) - normalize_rows(y).mean(axis=0)
        return np.asarray(gap_vector(x, y, image_index=image_index), dtype=np.float64)

    def _maybe_renormalize(self, a: np.ndarray) -> np.ndarray:
        if not getattr(self, "renormalize", True):
            return a
        zero = np.einsum("ij,ij->i", a, a, dtype=np.float64) == 0
        if zero.any():
            raise InputError(
                f"{self.name}: a transformed row became the zero vector and cannot be renormalised "
                f"(row {int(np.flatnonzero(zero)[0])})"
            )
        return normalize_rows(a)

    # -- persistence -------------------------------------------------------------------------
    def _header(self) -> dict[str, Any]:
        state = {}
        for k in self._state_names():
            v = getattr(self, k)
            if not isinstance(v, np.ndarray):
                state[k] = v.item() if isinstance(v, np.generic) else v
        return {"format": _FORMAT, "method": self.name, "params": self.get_params(), "state": state}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write parameters and fitted state to ``.npz`` (arrays exact) or ``.json`` (no pickle)."""
        self._check_is_fitted("save")
        p = Path(path)
        arrays = {k: getattr(self, k) for k in self._state_names() if isinstance(getattr(self, k), np.ndarray)}
        header = self._header()
        suffix = p.suffix.lower()
        if suffix == ".npz":
            def write(tmp: str) -> None:
                with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to "x.NPZ"
                    np.savez(f, __header__=np.array(json.dumps(header)), **arrays)

            return atomic_write(p, write)
        if suffix == ".json":
            header["arrays"] = {
                k: {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.ravel().tolist()}
                for k, a in arrays.items()
            }
            text = json.dumps(header) + "\n"
            return atomic_write(p, lambda tmp: Path(tmp).write_text(text))
        raise InputError(f"{self.name}.save: {p} must end in .npz or .json")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Mitigation:
        """Read a mitigation written by :meth:`save` (checks it is of this class)."""
        m = load_mitigation(path)
        if cls is not Mitigation and not isinstance(m, cls):
            raise InputError(f"{path}: holds a {type(m).__name__}, not a {cls.__name__}")
        return m


def _modality_mask(modality: Any, n: int, where: str) -> np.ndarray:
    """Boolean (n,) mask, True for text rows, from ``"image"``, ``"text"`` or one name per row."""
    if isinstance(modality, str):
        if modality not in ("image", "text"):
            raise InputError(f"{where}: gallery_modality must be 'image', 'text' or one of them per row, got {modality!r}")
        return np.full(n, modality == "text")
    arr = np.asarray(modality)
    if arr.shape != (n,) or not np.isin(arr, ["image", "text"]).all():
        raise InputError(
            f"{where}: gallery_modality must be 'image', 'text' or {n} such names (one per gallery row), "
            f"got shape {arr.shape}"
        )
    return arr == "text"


def load_mitigation(path: str | os.PathLike[str]) -> Mitigation:
    """A fitted mitigation from a ``.npz`` or ``.json`` file written by :meth:`Mitigation.save`.

    Float arrays round-trip bit-exactly (JSON stores the shortest repr, which Python reads back
    exactly), so the loaded object transforms exactly like the saved one.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if "__header__" not in z.files:
                    raise InputError(f"{p}: not a gaplab mitigation file (no __header__ entry)")
                header = json.loads(str(z["__header__"]))
                arrays = {k: z[k] for k in z.files if k != "__header__"}
        elif suffix == ".json":
            header = json.loads(p.read_text())
            arrays = {
                k: np.asarray(v["data"], dtype=v["dtype"]).reshape(v["shape"])
                for k, v in header.pop("arrays", {}).items()
            }
        else:
            raise InputError(f"{p}: a saved mitigation must end in .npz or .json")
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{p}: cannot read mitigation ({type(e).__name__}: {e})") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise InputError(f"{p}: not a gaplab mitigation file (format {header.get('format')!r})")
    m = create_mitigation(header["method"], **header["params"])
    for k, v in header["state"].items():
        setattr(m, k, tuple(v) if isinstance(v, list) else v)
    for k, v in arrays.items():
        setattr(m, k, v)
    return m
