"""JSON helpers shared by the CLI and every run that writes ``results.json``/``history.json``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._fs import atomic_write

__all__ = ["to_jsonable", "dumps", "write_json"]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, dataclasses, Paths and tuples to plain JSON types.

    Non-finite floats (NaN, ±inf) become ``None``.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # torch scalars
        return to_jsonable(obj.item())
    return obj


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text (never NaN/Infinity tokens)."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    text = dumps(obj) + "\n"
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
