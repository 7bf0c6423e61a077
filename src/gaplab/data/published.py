"""Real paired embeddings published by Liang et al. (NeurIPS 2022), shipped as package data.

Six dumps of trained and random-weight two-tower models (CLIP on MS-COCO, ConVIRT,
VideoCLIP, CLASP; see ``published/README.md`` for attribution and licence), read with
:mod:`importlib.resources` so they work in any install, never from ``tests/``.

Examples
--------
>>> from gaplab.data import list_published, load_published
>>> list_published()[:2]
['clasp', 'clasp_random']
>>> x, y = load_published("clip_coco")
>>> x.shape, y.shape
((500, 512), (500, 512))
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .._errors import UnknownNameError

__all__ = ["PUBLISHED", "list_published", "load_published", "published_file"]

#: name → (file, what it is)
PUBLISHED: dict[str, tuple[str, str]] = {
    "clip_coco": ("clip_coco_pairs.npy", "CLIP (image-caption), trained, MS-COCO"),
    "convirt": ("convirt_pairs.npy", "ConVIRT (chest X-ray-report), trained"),
    "videoclip": ("videoclip_pairs.npy", "VideoCLIP (video-text), trained"),
    "videoclip_random": ("videoclip_random_pairs.npy", "VideoCLIP, random weights"),
    "clasp": ("clasp_pairs.npy", "CLASP (protein-text), trained"),
    "clasp_random": ("clasp_random_pairs.npy", "CLASP, random weights"),
}


def list_published() -> list[str]:
    """Names of the shipped dumps."""
    return sorted(PUBLISHED)


def published_file(name: str) -> Path:
    """Path of the shipped ``.npy`` of dump ``name`` (a (2, N, d) array ``gaplab measure`` reads)."""
    if name not in PUBLISHED:
        raise UnknownNameError(f"unknown published dump {name!r}; valid: {', '.join(list_published())}")
    return Path(str(resources.files("gaplab.data").joinpath("published", PUBLISHED[name][0])))


def load_published(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(non-text, text)`` float32 arrays (N, d) of the published dump ``name``."""
    with published_file(name).open("rb") as f:
        arr = np.load(f, allow_pickle=False)
    return np.ascontiguousarray(arr[0]), np.ascontiguousarray(arr[1])
