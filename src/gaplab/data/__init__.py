"""Paired image–caption datasets, offline: digits, Fashion-MNIST, a user's folder, and more.

Every loader returns a :class:`PairedDataset` (float images, labels, class names, captions
with an ``image_index`` for several captions per image, ids, split), deterministic in its
``seed``. Datasets live in one registry::

    >>> from gaplab.data import create_dataset, list_datasets
    >>> "digits" in list_datasets()
    True
    >>> create_dataset("digits", split="test", limit=10).n_images
    10

Another module adds a dataset with ``@register_dataset("name")`` on a loader that takes
keyword arguments (``split``, ``seed``, ``limit``, ...) and returns a
:class:`PairedDataset`. Modules listed in ``PLUGIN_MODULES`` (e.g. ``gaplab.data.mad``)
are imported on the first ``list_datasets``/``create_dataset`` call, if they exist.

Importing this package loads numpy only (no torch, no PIL).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._dataset import DATASETS, SPLITS, PairedDataset, register_dataset, split_indices
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

#: modules that register datasets themselves, imported lazily when present
PLUGIN_MODULES: list[str] = ["gaplab.data.mad", "gaplab.data.fashion_captions"]
_plugins_loaded = False


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


def create_dataset(name: str, **kwargs: Any) -> PairedDataset:
    """Load a registered dataset; keyword arguments left ``None`` keep the loader's defaults.

    An argument the loader does not take is a :class:`~gaplab.ConfigError` listing the ones
    it does.

    Examples
    --------
    >>> ds = create_dataset("digits", split="train", captions_per_image=3, seed=1, limit=None)
    >>> ds.n_captions == 3 * ds.n_images
    True
    """
    _load_plugins()
    return DATASETS.create(name, **kwargs)


#: deprecated: kept while recipes call it

__all__ = [
    "PairedDataset", "SPLITS", "split_indices",
    "DATASETS", "PLUGIN_MODULES", "register_dataset", "list_datasets", "create_dataset",
    "load_digits_pairs", "DIGIT_NAMES",
    "load_fashion_mnist_pairs", "FASHION_CLASSES", "fashion_mnist_path", "read_idx",
    "load_image_folder", "read_captions_file", "PUBLISHED", "list_published", "load_published", "published_file",
    "DEFAULT_TEMPLATES", "DIGIT_TEMPLATES", "FASHION_TEMPLATES", "class_prompts", "fill_template",
    "make_captions", "zero_shot_classifier", "zero_shot_eval",
]
