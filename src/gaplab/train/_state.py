"""Checkpoints and caches as tensors + JSON: nothing in them can run code when loaded.

:func:`save_state` writes a nested structure of dicts, lists, tuples, numbers, strings,
``None``, torch tensors and numpy arrays as ``torch.save`` of a flat ``{name: tensor}``
dict: every tensor and array under its own name, and the rest as JSON text in the uint8
tensor ``__gaplab__`` (tensors appear there as references). :func:`load_state` reads it
back with ``torch.load(weights_only=True)``, which refuses any pickled Python object, so a
planted file can at worst hold wrong numbers; a file that is not such a state (corrupt,
truncated, an older pickled checkpoint, another program's file) raises
:class:`~gaplab.InputError` with one line saying so.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._errors import InputError
from .._fs import atomic_write

__all__ = ["save_state", "load_state", "save_cache", "load_model_cache", "FORMAT", "VERSION"]

FORMAT = "gaplab-state"
VERSION = 1
_META = "__gaplab__"


def _pack(obj: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}

    def ref(t: torch.Tensor, tag: str) -> dict[str, str]:
        key = f"t{len(tensors)}"
        tensors[key] = t
        return {tag: key}

    def enc(o: Any) -> Any:
        if isinstance(o, torch.Tensor):
            return ref(o.detach(), "$t")
        if isinstance(o, np.ndarray):
            return ref(torch.from_numpy(np.ascontiguousarray(o).copy()), "$nd")
        if isinstance(o, np.generic):
            return enc(o.item())
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        if isinstance(o, tuple):
            return {"$tuple": [enc(v) for v in o]}
        if isinstance(o, list):
            return [enc(v) for v in o]
        if isinstance(o, dict):
            meta = getattr(o, "_metadata", None)  # nn.Module state dicts carry version info
            if isinstance(o, OrderedDict) and meta is not None:
                return {"$state_dict": enc(dict(o)), "$metadata": enc(dict(meta))}
            if all(isinstance(k, str) and not k.startswith("$") for k in o):
                return {k: enc(v) for k, v in o.items()}
            return {"$items": [[enc(k), enc(v)] for k, v in o.items()]}
        raise TypeError(f"save_state: cannot store a {type(o).__name__}")

    return enc(obj), tensors


def _unpack(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    def dec(o: Any) -> Any:
        if isinstance(o, list):
            return [dec(v) for v in o]
        if not isinstance(o, dict):
            return o
        if len(o) == 1:
            (k, v), = o.items()
            if k == "$t":
                return tensors[v]
            if k == "$nd":
                return tensors[v].cpu().numpy()
            if k == "$tuple":
                return tuple(dec(u) for u in v)
            if k == "$items":
                return {_hashable(dec(a)): dec(b) for a, b in v}
        if set(o) == {"$state_dict", "$metadata"}:
            sd = OrderedDict(dec(o["$state_dict"]))
            sd._metadata = dec(o["$metadata"])  # type: ignore[attr-defined]
            return sd
        return {k: dec(v) for k, v in o.items()}

    return dec(tree)


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


def save_state(path: str | os.PathLike[str], obj: Any, *, kind: str) -> Path:
    """Write ``obj`` (see the module docstring for what it may hold) atomically to ``path``."""
    tree, tensors = _pack(obj)
    text = json.dumps({"format": FORMAT, "version": VERSION, "kind": kind, "data": tree})
    payload = {_META: torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).clone(), **tensors}
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    line = s[0] if s else type(e).__name__
    line = line.split(". ")[0]
    return line if len(line) <= 200 else line[:197] + "..."


def load_state(path: str | os.PathLike[str], *, kind: str, what: str | None = None,
               map_location: Any = None) -> Any:
    """Read what :func:`save_state` wrote; anything else raises :class:`~gaplab.InputError`.

    ``kind`` must match the one it was saved with (a checkpoint is not a model cache);
    ``what`` names the file in messages (default ``kind``).
    """
    import pickle
    import warnings

    p = Path(path)
    what = what or kind
    bad = f"{what} {str(p)!r} is not a readable gaplab {kind} file"
    try:
        with warnings.catch_warnings():  # a planted plain pickle makes torch warn about its protocol
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            raw = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" not in str(e):  # not a pickle at all: garbage, truncated
            raise InputError(f"{bad}: it is corrupt, truncated or not a tensors-only file; "
                             "nothing in it was run") from None
        raise InputError(f"{bad}: it holds Python objects, not only tensors (an older gaplab's "
                         "format, or not written by gaplab); nothing in it was run. Delete it or "
                         "start anew") from None
    except FileNotFoundError:
        raise InputError(f"{what} {str(p)!r} does not exist") from None
    except Exception as e:  # truncated or corrupt zip, wrong magic number, ...
        raise InputError(f"{bad}: {_first_line(e)}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get(_META), torch.Tensor):
        raise InputError(f"{bad}: no gaplab header (not written by this version of gaplab)")
    try:
        header = json.loads(bytes(raw[_META].cpu().numpy().tobytes()).decode("utf-8"))
        if header.get("format") != FORMAT:
            raise ValueError("unknown format")
        if int(header.get("version", -1)) > VERSION:
            raise ValueError(f"format version {header.get('version')} is newer than this gaplab's ({VERSION})")
        if header.get("kind") != kind:
            raise ValueError(f"it is a {header.get('kind')!r} file")
        tensors = {k: v for k, v in raw.items() if k != _META}
        if not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise ValueError("an entry is not a tensor")
        return _unpack(header["data"], tensors)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise InputError(f"{bad}: {_first_line(e)}") from None


def save_cache(path: str | os.PathLike[str], obj: Any, *, kind: str, what: str) -> None:
    """:func:`save_state` for a cache: a full or read-only cache only costs the next run time.

    An :class:`~gaplab._fs.OutputError` becomes a ``RuntimeWarning`` ("``what`` not cached: …")
    at the caller's caller.
    """
    import warnings

    from .._fs import OutputError

    try:
        save_state(path, obj, kind=kind)
    except OutputError as e:
        warnings.warn(f"{what} not cached: {e}", RuntimeWarning, stacklevel=3)


def load_model_cache(path: str | os.PathLike[str], model: torch.nn.Module, *, kind: str, what: str,
                     key: tuple[str, Any], record: tuple[str, str]) -> Any:
    """Load a cached model's weights into ``model`` and return the cache's training record.

    The cache is a :func:`save_state` dict holding ``"model"`` (a state dict), the entry
    ``key[0]`` that must equal ``key[1]`` (the config that trained it) and the dict
    ``record[0]`` (``record[1]`` names it in messages). ``None``, with a ``RuntimeWarning``
    at the caller's caller, when the file is unreadable, was written for another config or
    does not fit the model: the caller retrains.
    """
    import warnings

    p = str(path)
    try:
        state = load_state(path, kind=kind, what=what, map_location="cpu")
        if not isinstance(state, dict) or state.get(key[0]) != key[1]:
            raise InputError(f"{what} {p!r} was written for another config")
        model.load_state_dict(state["model"])
        out = state[record[0]]
        if not isinstance(out, dict):
            raise InputError(f"{what} {p!r} has no {record[1]}")
    except (InputError, KeyError, TypeError, ValueError, RuntimeError) as e:
        warnings.warn(f"ignoring the {what} and retraining: {str(e).splitlines()[0]}", RuntimeWarning,
                      stacklevel=3)
        return None
    return out

