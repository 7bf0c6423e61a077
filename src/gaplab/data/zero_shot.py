"""Zero-shot classification on a labelled :class:`PairedDataset`.

Class prompts → text embeddings → accuracy (CLIP's protocol, Radford et al., 2021, §3.1.4).

The encoder is duck-typed (anything with ``encode_text`` and ``encode_image``, e.g. a
:mod:`gaplab.models.adapters` encoder or a ``TwoTower``; or plain callables), and outputs may
be numpy arrays or torch tensors: this module never imports torch itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_embeddings, normalize_rows, to_numpy
from ._dataset import PairedDataset
from .captions import class_prompts

__all__ = ["no_grad", "iter_batches", "encode_batched", "zero_shot_classifier", "zero_shot_eval"]


def no_grad() -> contextlib.AbstractContextManager[Any]:
    """``torch.no_grad()`` when torch is already loaded, else a no-op (never imports torch)."""
    torch = sys.modules.get("torch")
    return torch.no_grad() if torch is not None else contextlib.nullcontext()


def iter_batches(items: Any, batch_size: int):
    """Consecutive slices of an array or list."""
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size}")
    for lo in range(0, len(items), int(batch_size)):
        yield items[lo : lo + int(batch_size)]


def encode_batched(
    fn: Callable[[Any], Any],
    items: Any,
    *,
    batch_size: int = 256,
    where: str = "encode",
    on_batch: Callable[[int], object] | None = None,
) -> np.ndarray:
    """``fn`` over batches of ``items``, outputs stacked as one float32 (N, d) array.

    The one batched encoding loop (zero-shot prompts and images, ``embed_dataset``): no
    gradients when torch is loaded, one row per input checked, ``on_batch(len(batch))``
    after each batch (a progress bar's ``update``).
    """
    if len(items) == 0:
        raise InputError(f"{where}: nothing to encode (0 items)")
    outs = []
    with no_grad():
        for batch in iter_batches(items, batch_size):
            out = to_numpy(fn(batch))
            if out.ndim != 2 or out.shape[0] != len(batch):
                raise InputError(
                    f"{where}: the encoder must return one row per input, got shape {out.shape} for {len(batch)} inputs"
                )
            outs.append(out.astype(np.float32, copy=False))
            if on_batch is not None:
                on_batch(len(batch))
    return np.concatenate(outs)


def _text_fn(encoder: Any) -> Callable[[list[str]], Any]:
    fn = getattr(encoder, "encode_text", encoder)
    if not callable(fn):
        raise InputError(f"zero-shot: need an encoder with encode_text or a callable, got {type(encoder).__name__}")
    return fn


def zero_shot_classifier(
    encoder: Any,
    class_names: Sequence[str],
    *,
    templates: Sequence[str] | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    r"""One unit text embedding per class: the normalised mean of its normalised prompt embeddings.

    .. math:: t_c = \frac{\sum_j \hat e(\text{template}_j(c))}{\lVert\sum_j \hat e(\text{template}_j(c))\rVert}

    Parameters
    ----------
    encoder : object with ``encode_text(list[str])``, or such a callable
    class_names : sequence of str
    templates : sequence of str, optional
        Prompt templates (:func:`~gaplab.data.captions.fill_template` syntax); default
        :data:`~gaplab.data.captions.DEFAULT_TEMPLATES`.

    Returns
    -------
    ndarray, float32, shape (C, d)

    Examples
    --------
    >>> enc = lambda texts: np.array([[1.0, len(t)] for t in texts])
    >>> zero_shot_classifier(enc, ["a", "bbbbbbb"], templates=["{}"]).astype(float).round(3).tolist()
    [[0.707, 0.707], [0.141, 0.99]]
    """
    if len(class_names) == 0:
        raise InputError("zero-shot: class_names is empty")
    prompts = class_prompts(class_names, templates)
    flat = [p for ps in prompts for p in ps]
    emb = encode_batched(_text_fn(encoder), flat, batch_size=batch_size, where="zero_shot_classifier")
    emb = normalize_rows(check_embeddings(emb, name="prompt embeddings", where="zero_shot_classifier", min_rows=1))
    mean = emb.reshape(len(class_names), len(prompts[0]), -1).mean(axis=1)
    return normalize_rows(check_embeddings(mean, name="class embeddings", where="zero_shot_classifier", min_rows=1))


def zero_shot_eval(
    encoder: Any,
    dataset: PairedDataset,
    *,
    templates: Sequence[str] | None = None,
    image_emb: Any = None,
    ks: Sequence[int] = (1,),
    batch_size: int = 256,
) -> dict[str, float]:
    """Zero-shot top-k accuracy of ``encoder`` on a labelled dataset.

    Parameters
    ----------
    encoder : object with ``encode_text`` (and ``encode_image`` unless ``image_emb`` is given)
    dataset : PairedDataset
        Must have labels and class names.
    templates : sequence of str, optional
        Default: the dataset's own caption templates (``dataset.meta["templates"]``), else
        :data:`~gaplab.data.captions.DEFAULT_TEMPLATES`.
    image_emb : array (N, d), optional
        Precomputed image embeddings (skip encoding the images).
    ks : sequence of int
        Report ``top{k}`` for each.

    Returns
    -------
    dict
        ``{"top1": ..., "n_images": N, "n_classes": C}``.
    """
    from ..metrics import zero_shot_accuracy

    if dataset.labels is None or not dataset.class_names:
        raise InputError(f"zero-shot: dataset {dataset.name!r} has no labels/class names")
    if templates is None:
        templates = dataset.meta.get("templates")
    classifier = zero_shot_classifier(encoder, dataset.class_names, templates=templates, batch_size=batch_size)
    if image_emb is None:
        fn = getattr(encoder, "encode_image", None)
        if fn is None:
            raise InputError("zero-shot: the encoder has no encode_image; pass image_emb=")
        image_emb = encode_batched(fn, dataset.images, batch_size=batch_size, where="zero_shot_eval")
    out: dict[str, float] = {}
    for k in ks:
        out[f"top{int(k)}"] = zero_shot_accuracy(image_emb, classifier, dataset.labels, k=min(int(k), len(dataset.class_names)))
    out["n_images"] = int(len(dataset))
    out["n_classes"] = len(dataset.class_names)
    return out
