"""Read one plain array (class labels, class prompt embeddings) from a file.

``.txt`` (whitespace-separated) and ``.csv`` (comma-separated) through ``numpy.loadtxt``;
``.npy`` through ``numpy.load`` without pickle (any shape, e.g. 1-D labels); every other
format the pairs readers know (``.npz``, ``.pt``, ``.safetensors``, ``.parquet``) through
:func:`~gaplab.io.load_embeddings` (the file's only array). Every failure is an
:class:`~gaplab.InputError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .readers import load_embeddings

__all__ = ["load_array", "TEXT_FORMATS"]

#: suffix → delimiter of the text formats (``None`` = any whitespace)
TEXT_FORMATS: dict[str, str | None] = {".txt": None, ".csv": ","}


def load_array(path: str | os.PathLike[str], *, what: str = "array") -> np.ndarray:
    r"""The array stored in ``path``; ``what`` names it in error messages ("labels", ...).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "labels.csv").write_text("0,1,1,2\n")
    ...     load_array(Path(d, "labels.csv"), what="labels").tolist()
    [0.0, 1.0, 1.0, 2.0]
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in TEXT_FORMATS or suffix == ".npy":
        if not p.exists():
            raise InputError(f"{p}: no such file")
        try:
            if suffix == ".npy":
                return np.load(p, allow_pickle=False)
            return np.loadtxt(p, delimiter=TEXT_FORMATS[suffix])
        except Exception as e:
            raise InputError(f"{p}: cannot read {what} ({type(e).__name__}: {e})") from None
    return load_embeddings(p)
