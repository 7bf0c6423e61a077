"""Turning what users hand us (files, PIL images, arrays) into pixels, with one clear error.

PIL and torch load lazily: importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import to_numpy

__all__ = ["IMAGE_EXTENSIONS", "open_image", "to_pil_images", "to_float_array", "list_images"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise InputError("reading image files needs Pillow: pip install 'gaplab[hf]' (or pillow)") from None
    return Image


def open_image(path: str | os.PathLike[str], *, mode: str = "RGB") -> Any:
    """A decoded PIL image in ``mode``; an undecodable file is an :class:`InputError`."""
    Image = _pil()
    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert(mode)
    except FileNotFoundError:
        raise InputError(f"{p}: no such image file") from None
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise InputError(f"{p}: cannot decode image ({type(e).__name__}: {e})") from None


def _array_to_uint8_hwc(a: np.ndarray) -> np.ndarray:
    """One image array, (H, W), (H, W, C) or (C, H, W), floats in [0, 1] or uint8 → uint8 (H, W[, C])."""
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3):
        raise InputError(f"images: each image must be (H, W), (H, W, C) or (C, H, W), got shape {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise InputError("images: pixel values must be finite")
        if a.max(initial=0.0) > 1.0 + 1e-6:  # already 0..255
            a = a / 255.0
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    return a


def to_pil_images(batch: Any, *, mode: str = "RGB") -> list[Any]:
    """A batch (paths, PIL images, or an array (B, H, W) / (B, H, W, C) / (B, C, H, W)) as PIL."""
    Image = _pil()
    if isinstance(batch, (str, os.PathLike)):
        batch = [batch]
    if not isinstance(batch, (list, tuple)):
        arr = to_numpy(batch)
        if arr.ndim < 3:
            raise InputError(f"images: a batch array must be (B, H, W[, C]) or (B, C, H, W), got shape {arr.shape}")
        batch = list(arr)
    out = []
    for item in batch:
        if isinstance(item, (str, os.PathLike)):
            out.append(open_image(item, mode=mode))
        elif isinstance(item, Image.Image):
            out.append(item.convert(mode))
        else:
            out.append(Image.fromarray(_array_to_uint8_hwc(to_numpy(item))).convert(mode))
    return out


def to_float_array(
    batch: Any, *, size: tuple[int, int] | None = None, channels: int = 1
) -> np.ndarray:
    """A batch as float32 (B, C, H, W) in [0, 1]; files and PIL images resized to ``size`` (H, W).

    Arrays already of the right size skip PIL entirely (the fast path for built-in datasets).
    """
    if not isinstance(batch, (list, tuple, str, os.PathLike)):
        arr = to_numpy(batch)
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[1] not in (1, 3, 4) and arr.shape[-1] in (1, 3, 4):
            arr = np.moveaxis(arr, -1, 1)
        if arr.ndim != 4:
            raise InputError(f"images: a batch array must be (B, H, W), (B, C, H, W) or (B, H, W, C), got shape {arr.shape}")
        was_uint8 = arr.dtype == np.uint8
        arr = arr.astype(np.float32, copy=False)
        if was_uint8 or arr.max(initial=0.0) > 1.0 + 1e-6:
            arr = arr / 255.0
        if arr.shape[1] != channels:
            if arr.shape[1] == 1:
                arr = np.repeat(arr, channels, axis=1)
            elif channels == 1:
                arr = arr[:, :3].mean(axis=1, keepdims=True)
        if size is None or tuple(arr.shape[2:]) == tuple(size):
            return np.ascontiguousarray(arr)
        batch = list(np.moveaxis(arr, 1, -1))
    pil = to_pil_images(batch, mode="L" if channels == 1 else "RGB")
    if size is not None:
        Image = _pil()
        pil = [im.resize((size[1], size[0]), Image.BILINEAR) for im in pil]
    arrs = [np.asarray(im, dtype=np.float32) / 255.0 for im in pil]
    shapes = {a.shape for a in arrs}
    if len(shapes) > 1:
        raise InputError(f"images: a batch needs one image size (pass size=), got {sorted(shapes)}")
    out = np.stack(arrs)
    return out[:, None] if out.ndim == 3 else np.moveaxis(out, -1, 1)


def list_images(folder: Path, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files directly in ``folder`` (by extension), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)
