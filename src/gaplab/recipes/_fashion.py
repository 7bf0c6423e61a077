"""Shared pieces of the recipes that run on the from-scratch Fashion-MNIST CLIP (``model=gaplab-clip-fashion``).

Not a recipe (leading underscore): ``neighbourhoods`` and ``temperature`` import it.

* :func:`check_model` — the recipes' ``model`` parameter: a one-line
  :class:`~gaplab.ConfigError` listing the valid choices for an unknown name.
* :func:`load_run` / :func:`held_out` — the trained model of a seed (the full config, or the
  quick one with ``quick``; trained once, then read from the user cache, see
  :mod:`gaplab.models.clip`) and its held-out embeddings.
* :func:`parse_fashion_caption` — which attribute values a composed caption mentions. The
  captions of :mod:`gaplab.data.fashion_captions` do not record the attributes they were
  composed from, so they are read back from the text: the sentence opener is removed, then
  every phrase of :data:`~gaplab.data.fashion_captions.FASHION_ATTRIBUTES` is matched, the
  longest first, as a whole token sequence (a hyphen counts as part of a word, so
  "medium-bright" is not "bright" and "mirror-symmetric" is not "symmetric"). The phrases of
  different values never coincide, so the reading is exact; :func:`attribute_bins` gives the
  values each image *shows* (its measured terciles over all 70,000 images, as the captions
  use), and a recipe reports how many captions disagree with their own image (0 on the real
  data).
* :func:`finetune` — continue training a copy of a trained model at a fixed temperature with
  :class:`gaplab.train.Trainer`, then :func:`~gaplab.train.fashion_clip.evaluate_fashion_clip`.

This module reads the data tensors through the private helpers ``_data`` and
``_train_rows`` of :mod:`gaplab.train.fashion_clip` (there is no public
hook for them yet).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .._errors import ConfigError

__all__ = ["FASHION_MODEL", "OVERRIDES", "check_model", "seed_list", "load_run", "held_out", "parse_fashion_caption",
           "attribute_bins", "attribute_values", "finetune"]

#: the name of the from-scratch Fashion-MNIST CLIP (:mod:`gaplab.models.clip`)
FASHION_MODEL = "gaplab-clip-fashion"

#: config overrides applied to every Fashion CLIP these recipes load (empty: the built-in
#: configs, whose trained weights are cached). Tests set a tiny model on a fake data folder.
OVERRIDES: dict[str, Any] = {}

#: fine-tuning (``temperature``): AdamW at a constant learning rate, the pre-training's weight decay
FINETUNE_LR, FINETUNE_WEIGHT_DECAY, FINETUNE_BATCH = 1e-4, 0.1, 64


def check_model(recipe: str, model: Any, choices: Sequence[str]) -> str:
    """``model`` if it is one of ``choices``, else a one-line :class:`~gaplab.ConfigError`."""
    if not isinstance(model, str) or model not in choices:
        raise ConfigError(f"recipe {recipe!r}: unknown model {model!r}; valid: {', '.join(choices)}")
    return model


def seed_list(ctx: Any, default: int) -> list[int]:
    """The seeds of a Fashion run: ``[seed]`` with ``--quick``, else the ``seeds`` parameter.

    ``seeds`` is a list of seeds, or a count ``n`` (``seed`` … ``seed + n − 1``; ``default``
    when not given).
    """
    if ctx.quick:
        return [int(ctx.seed)]
    given = ctx.param("seeds")
    if isinstance(given, (list, tuple)):
        return [int(s) for s in given]
    return [int(ctx.seed) + i for i in range(int(given or default))]


def load_run(seed: int, quick: bool, *, progress: bool = False) -> Any:
    """The trained Fashion CLIP of ``seed`` (:func:`~gaplab.train.fashion_clip.train_fashion_clip`)."""
    from ..train.fashion_clip import train_fashion_clip

    return train_fashion_clip(seed, quick, progress=progress, **OVERRIDES)


def held_out(seed: int, quick: bool, *, progress: bool = False) -> Any:
    """Held-out embeddings of the trained model of ``seed`` (:func:`~gaplab.train.fashion_clip.fashion_clip_embeddings`)."""
    from ..train.fashion_clip import fashion_clip_embeddings

    return fashion_clip_embeddings(seed, quick, progress=progress, **OVERRIDES)


def _config(seed: int, quick: bool) -> Any:
    from ..models.clip import fashion_clip_config

    return fashion_clip_config(quick=quick, seed=seed, **OVERRIDES)


# -- captions and attributes -------------------------------------------------------------------
def attribute_values() -> list[tuple[str, int, str]]:
    """Every attribute value as ``(attribute, bin, name)``, the name being its first phrase."""
    from ..data.fashion_captions import FASHION_ATTRIBUTES

    return [(a, b, phrases[0]) for a, (_, bins) in FASHION_ATTRIBUTES.items() for b, phrases in enumerate(bins)]


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, ...], tuple[tuple[re.Pattern[str], str, int], ...], tuple[re.Pattern[str], ...]]:
    from ..data.fashion_captions import CAPTION_OPENERS, FASHION_ATTRIBUTES, FASHION_SYNONYMS

    def whole(phrase: str) -> re.Pattern[str]:
        return re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])")

    openers = tuple(sorted({t.split("{x}")[0] for t in CAPTION_OPENERS}, key=len, reverse=True))
    phrases = sorted(((p, a, b) for a, (_, bins) in FASHION_ATTRIBUTES.items() for b, ps in enumerate(bins) for p in ps),
                     key=lambda t: len(t[0]), reverse=True)
    nouns = sorted({w for syns in FASHION_SYNONYMS for w in syns}, key=len, reverse=True)
    return openers, tuple((whole(p), a, b) for p, a, b in phrases), tuple(whole(n) for n in nouns)


def parse_fashion_caption(caption: str) -> tuple[dict[str, int], str]:
    """The attribute values a composed Fashion-MNIST caption mentions, and what is left unread.

    Returns ``({attribute: bin}, rest)``; ``rest`` is the text that is neither the opener,
    the article, a class noun, an attribute phrase nor a separator ("" for every caption of
    :func:`~gaplab.data.fashion_captions.compose_fashion_captions`). An attribute mentioned
    with two different values raises :class:`~gaplab.ConfigError` (it cannot happen there).

    >>> parse_fashion_caption("a photo of a dark, wide coat, tilted left and sitting high.")
    ({'brightness': 0, 'shape': 2, 'vertical': 0, 'tilt': 0}, '')
    """
    openers, phrases, nouns = _patterns()
    text = caption.strip().lower()
    for o in openers:
        if text.startswith(o):
            text = text[len(o):]
            break
    found: dict[str, int] = {}
    for pat, attr, b in phrases:
        if pat.search(text):
            if found.get(attr, b) != b:
                raise ConfigError(f"parse_fashion_caption: {attr} mentioned with two values in {caption!r}")
            found[attr] = b
            text = pat.sub(" ", text)
    for pat in nouns:
        text = pat.sub(" ", text, count=1)
    rest = re.sub(r"(?<![\w-])(a|an|and)(?![\w-])|[,.]", " ", text)
    order = [a for a, _, _ in attribute_values()]
    return dict(sorted(found.items(), key=lambda kv: order.index(kv[0]))), " ".join(rest.split())


def attribute_bins(seed: int, quick: bool) -> dict[str, np.ndarray]:
    """The value (tercile bin) of every attribute that each held-out image shows: ``{attribute: (N_test,)}``.

    The terciles are those of all 70,000 images, as in
    :func:`~gaplab.data.fashion_captions.load_fashion_captions`; rows follow the held-out
    embeddings of :func:`held_out`.
    """
    from ..data.fashion_captions import attribute_thresholds, measure_fashion_attributes
    from ..models.clip import data_key
    from ..train.fashion_clip import _data

    data = _data(*data_key(_config(seed, quick)))
    images = data["images"][:, 0].numpy()
    meas = measure_fashion_attributes(images)
    th = attribute_thresholds(meas)
    n = int(data["n_train"])
    return {k: np.searchsorted(np.asarray(th[k]), v[n:], side="right") for k, v in meas.items()}


# -- fine-tuning -------------------------------------------------------------------------------
def finetune(run: Any, tau: float, steps: int, *, seed: int, device: str = "auto",
             progress: bool = False) -> dict[str, Any]:
    """Fine-tune a copy of ``run.model`` at the fixed temperature ``tau`` and evaluate it on the held-out pairs.

    ``steps`` AdamW steps (lr :data:`FINETUNE_LR` constant, weight decay
    :data:`FINETUNE_WEIGHT_DECAY`, batch :data:`FINETUNE_BATCH` — or all pairs when there are
    fewer, as in the tests' fake data —, the last short batch dropped) over the model's own
    training pairs (the rows it was trained on), in a batch
    order seeded by ``seed``. Returns :func:`~gaplab.train.fashion_clip.evaluate_fashion_clip`
    of the fine-tuned copy plus ``temperature`` and ``steps``; ``run.model`` is unchanged.
    """
    import torch

    from ..models.clip import data_key
    from ..train import Trainer
    from ..train.fashion_clip import _data, _train_rows, evaluate_fashion_clip

    cfg = run.config
    data = _data(*data_key(cfg))
    rows = torch.from_numpy(_train_rows(cfg, data["n_train"]))
    model = copy.deepcopy(run.model)
    trainer = Trainer(
        model, loss="clip", temperature=float(tau), optimizer="adamw", lr=FINETUNE_LR,
        weight_decay=FINETUNE_WEIGHT_DECAY, batch_size=min(FINETUNE_BATCH, len(rows)), steps=int(steps), seed=int(seed),
        device=device, progress=progress, drop_last=True,
    )
    trainer.fit((data["images"][rows], data["ids"][rows]))
    model.eval()
    model.cpu()
    out = evaluate_fashion_clip(model, device=device)
    out["temperature"] = trainer.temperature_value()
    out["steps"] = int(steps)
    return out


# -- runs with config fields of their own (``information-imbalance``) ---------------------------
def load_run_with(seed: int, quick: bool, *, progress: bool = False, **config: Any) -> Any:
    """:func:`load_run` with further config fields (e.g. ``min_attributes``), applied over :data:`OVERRIDES`."""
    from ..train.fashion_clip import train_fashion_clip

    return train_fashion_clip(seed, quick, progress=progress, **{**OVERRIDES, **config})


def held_out_of(run: Any, *, device: str = "auto") -> Any:
    """Held-out embeddings of a trained run (:func:`load_run_with`): those of :func:`held_out`, without a reload."""
    from ..train.fashion_clip import _held_out

    return _held_out(run.model, device)


def image_attribute_bins() -> dict[str, np.ndarray]:
    """:func:`attribute_bins` of the Fashion-MNIST folder of :data:`OVERRIDES` (any seed, any caption config).

    The same values, read from the images alone: the captions (and so the caption config)
    are not composed or loaded.
    """
    from ..data.fashion_captions import attribute_thresholds, measure_fashion_attributes
    from ..data.fashion_mnist import load_fashion_mnist_pairs

    raw = load_fashion_mnist_pairs(split="all", path=OVERRIDES.get("data_path"))
    images = np.asarray(raw.images, dtype=np.float32)
    meas = measure_fashion_attributes(images)
    th = attribute_thresholds(meas)
    n = int(sum(str(i).startswith("fashion-mnist/train/") for i in raw.ids))
    return {k: np.searchsorted(np.asarray(th[k]), v[n:], side="right") for k, v in meas.items()}
