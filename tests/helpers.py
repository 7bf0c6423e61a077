"""Helpers shared by the test modules (``from tests.helpers import ...``)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from click.testing import CliRunner, Result


def cli(*args: Any) -> Result:
    """Run ``gaplab ARGS...`` in-process (stdout and stderr kept apart)."""
    from gaplab.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(r: Result, pattern: str) -> None:
    """The command failed as a user error: exit 2, one ``gaplab: error:`` line matching ``pattern``."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaplab: error: "), r.stderr
    assert re.search(pattern, lines[0]), lines[0]


def labelled(n: int = 120, d: int = 12, n_classes: int = 3, seed: int = 0, gap: float = 2.0):
    """Paired embeddings of ``n_classes`` classes with a gap along dimension 0, plus class prompts."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_classes, d)) * 2
    labels = np.arange(n) % n_classes
    z = protos[labels] + 0.5 * rng.normal(size=(n, d))
    c = np.zeros(d)
    c[0] = gap
    x = z + c + 0.2 * rng.normal(size=(n, d))
    y = z - c + 0.2 * rng.normal(size=(n, d))
    class_text = protos - c
    return x, y, labels, class_text


def write_idx(path: Any, arr: np.ndarray, *, gz: bool = True) -> None:
    """Write a uint8 array as an IDX file (Fashion-MNIST's format), gzipped or not."""
    import gzip

    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def write_fake_fashion(folder: Any, *, gz_test: bool = True) -> Any:
    """A Fashion-MNIST folder of 30 train and 20 test random images, labels cycling 0…9 (seed 0)."""
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 30, True), ("t10k", 20, gz_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", imgs, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", (np.arange(n) % 10).astype(np.uint8), gz=gz)
    return folder
