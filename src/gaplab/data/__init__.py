"""Paired image–caption datasets, offline: digits, Fashion-MNIST, a user's folder, and more.

Every loader returns a :class:`PairedDataset` (float images, labels, class names, captions
with an ``image_index`` for several captions per image, ids, split), deterministic in its
``seed``. Datasets live in one registry::

    >>> from gaplab.data import list_datasets, load_dataset
    >>> "digits" in list_datasets()
    True
    >>> load_dataset("digits", split="test", limit=10).n_images
    10

Another module adds a dataset with ``@register_dataset("name")`` on a loader that takes
keyword arguments (``split``, ``seed``, ``limit``, ...) and returns a
:class:`PairedDataset`. Modules listed in ``PLUGIN_MODULES`` (e.g. ``gaplab.data.mad``)
are imported on the first ``list_datasets``/``load_dataset`` call, if they exist.

Importing this package loads numpy only (no torch, no PIL).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from .._errors import InputError
from .._registry import Registry
from ._dataset import SPLITS, PairedDataset, split_indices
from .captions import (
    DEFAULT_TEMPLATES,
    DIGIT_TEMPLATES,
    FASHION_TEMPLATES,
    class_prompts,
    fill_template,
    make_captions,
)
from .digits import DIGIT_NAMES, load_digits_pairs
from .fashion_mnist import FASHION_CLASSES, fashion_mnist_path, load_fashion_mnist_pairs, read_idx
from .folder import load_image_folder, read_captions_file
from .published import PUBLISHED, list_published, load_published, published_file
from .zero_shot import zero_shot_classifier, zero_shot_eval

#: name → loader(**kwargs) -> PairedDataset
DATASETS: Registry[Callable[..., PairedDataset]] = Registry("dataset")

#: modules that register datasets themselves, imported lazily when present
PLUGIN_MODULES: list[str] = ["gaplab.data.mad"]
_plugins_loaded = False


def register_dataset(name: str) -> Callable[[Callable[..., PairedDataset]], Callable[..., PairedDataset]]:
    """Decorator: ``@register_dataset("mad")`` makes ``load_dataset("mad", ...)`` call the loader."""
    return DATASETS.register(name)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    for module in PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # the plugin exists but one of its imports is missing
                raise
    _plugins_loaded = True


def list_datasets(filter: str | None = None) -> list[str]:
    """Names of the registered datasets (wildcards allowed)."""
    _load_plugins()
    return DATASETS.list(filter)


def load_dataset(name: str, **kwargs: Any) -> PairedDataset:
    """Load a registered dataset; keyword arguments left ``None`` keep the loader's defaults.

    Examples
    --------
    >>> ds = load_dataset("digits", split="train", captions_per_image=3, seed=1, limit=None)
    >>> ds.n_captions == 3 * ds.n_images
    True
    """
    _load_plugins()
    loader = DATASETS.get(name)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    params = inspect.signature(loader).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        bad = [k for k in kwargs if k not in params]
        if bad:
            raise InputError(
                f"dataset {name!r} does not take {', '.join(bad)}; it takes {', '.join(params)}"
            )
    return loader(**kwargs)


DATASETS.add("digits", load_digits_pairs)
DATASETS.add("fashion-mnist", load_fashion_mnist_pairs)
DATASETS.add("folder", load_image_folder)

__all__ = [
    "PairedDataset", "SPLITS", "split_indices",
    "DATASETS", "PLUGIN_MODULES", "register_dataset", "list_datasets", "load_dataset",
    "load_digits_pairs", "DIGIT_NAMES",
    "load_fashion_mnist_pairs", "FASHION_CLASSES", "fashion_mnist_path", "read_idx",
    "load_image_folder", "read_captions_file", "PUBLISHED", "list_published", "load_published", "published_file",
    "DEFAULT_TEMPLATES", "DIGIT_TEMPLATES", "FASHION_TEMPLATES", "class_prompts", "fill_template",
    "make_captions", "zero_shot_classifier", "zero_shot_eval",
]
