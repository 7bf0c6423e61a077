"""Shared pieces of the recipes that run on the from-scratch Fashion-MNIST CLIP (``model=gaplab-clip-fashion``).

Not a recipe (leading underscore): ``neighbourhoods``, ``temperature``, ``information-imbalance``,
``init-vs-optimization``, ``logit-entropy`` and ``contrastive-gap`` import it.

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
* :func:`fashion_trainer` / :func:`fit_fashion` — train a model of one's own (an amended
  initialisation, a pair of image towers, a run with recording callbacks) exactly as
  :func:`~gaplab.train.fashion_clip.train_fashion_clip` trains the built-in one;
  :func:`build_init` is that model at step 0, :func:`cached_variant` keeps such a variant's
  weights and record in the user cache next to the trained models, :func:`every_steps`
  records along a run, :func:`fashion_images` gives the images alone.

This module reads the data tensors through the private helpers ``_data`` and
``_train_rows`` of :mod:`gaplab.train.fashion_clip` (there is no public
hook for them yet), and ``_build``, ``_temperature_spec`` and ``_cache_folder`` of
:mod:`gaplab.models.clip` / :mod:`gaplab.train.fashion_clip` for the variants.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .._errors import ConfigError

__all__ = ["FASHION_MODEL", "OVERRIDES", "check_model", "reject_other_params", "seed_list", "load_run", "held_out", "parse_fashion_caption",
           "attribute_bins", "attribute_values", "finetune", "config_of", "build_init", "every_steps", "run_steps",
           "fashion_trainer", "training_pairs", "held_out_pairs", "fit_fashion", "cached_variant", "fashion_images",
           "embed_pairs"]

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


def reject_other_params(recipe: str, ctx: Any, defaults: dict[str, Any], model: str) -> None:
    """A one-line :class:`~gaplab.ConfigError` when a parameter of ``defaults`` (those of ``model`` only) is set.

    "Set" means given a value other than its default.
    """
    given = sorted(k for k, v in defaults.items() if ctx.param(k) != v)
    if given:
        raise ConfigError(f"recipe {recipe!r}: parameter(s) {', '.join(given)} apply to model {model} only")


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


# -- training a variant of the model (``init-vs-optimization``, ``logit-entropy``, ``contrastive-gap``) ----
def config_of(seed: int, quick: bool, **fields: Any) -> Any:
    """The :class:`~gaplab.models.clip.FashionCLIPConfig` of ``seed`` (``quick``: the quick one), :data:`OVERRIDES` and ``fields`` applied."""
    from ..models.clip import fashion_clip_config

    return fashion_clip_config(quick=quick, seed=seed, **{**OVERRIDES, **fields})


def build_init(cfg: Any) -> Any:
    """The model of ``cfg`` at its seeded random initialisation: step 0 of its :func:`load_run`."""
    from ..models.clip import _build

    return _build(cfg)


def every_steps(every: int, fn: Any) -> Any:
    """A :class:`gaplab.train.Callback` calling ``fn(state, step)`` at step 0, every ``every`` steps and at the last step."""
    from ..train.callbacks import Callback

    class _Every(Callback):
        def next_call(self, step: int, total_steps: int) -> int | None:
            return min((step // every + 1) * every, total_steps) if step < total_steps else None

        def on_fit_start(self, state: Any) -> None:
            if state.step == 0:
                fn(state, 0)

        def on_step_end(self, state: Any, step: int, logs: dict[str, float]) -> None:
            fn(state, step)

    return _Every()


def run_steps(cfg: Any, n_pairs: int) -> int:
    """Optimizer steps of a run of ``cfg`` on ``n_pairs`` pairs: ``cfg.epochs`` epochs of full batches (at least 2)."""
    return max(2, int(round(cfg.epochs * (int(n_pairs) // cfg.batch_size))))


def fashion_trainer(model: Any, cfg: Any, n_pairs: int, *, loss: str = "clip", steps: int | None = None,
                    callbacks: Sequence[Any] = (), eval_every: int | None = None, eval_data: Any = None,
                    device: str = "auto", progress: bool = False) -> Any:
    """A :class:`gaplab.train.Trainer` set up as :func:`~gaplab.train.fashion_clip.train_fashion_clip` trains ``cfg``.

    The same loss (``clip`` unless ``loss`` says otherwise), temperature (``cfg.temperature``),
    AdamW with ``cfg.weight_decay``, linear warm-up over ``cfg.warmup_fraction`` of the run then
    cosine decay from ``cfg.lr`` to 0, batch ``cfg.batch_size`` (last short batch dropped),
    batch order seeded by ``cfg.seed``; the run is ``cfg.epochs`` epochs of ``n_pairs`` pairs
    (or ``steps`` steps). On the model of :func:`build_init` and the config's training pairs
    (:func:`fit_fashion`) it trains the very weights of :func:`load_run`. (This repeats the
    few lines of ``train_fashion_clip`` that set the trainer up: it has no hook for a model of
    one's own.)
    """
    from ..train import Trainer
    from ..train.fashion_clip import _temperature_spec
    from ..train.schedules import warmup_cosine_schedule

    if steps is None:
        steps = run_steps(cfg, n_pairs)
    warm = min(steps - 1, int(round(cfg.warmup_fraction * steps)))
    return Trainer(
        model, loss=loss, temperature=_temperature_spec(cfg.temperature), optimizer="adamw",
        lr=warmup_cosine_schedule(0.0, cfg.lr, warm, steps), weight_decay=cfg.weight_decay,
        batch_size=cfg.batch_size, steps=steps, seed=cfg.seed, device=device, progress=progress,
        drop_last=True, mismatch=cfg.mismatch, mismatch_mode="fixed", callbacks=tuple(callbacks),
        eval_every=eval_every, metrics=["l2m", "rmg", "mean_cos_paired"], eval_data=eval_data,
    )


def training_pairs(cfg: Any) -> tuple[Any, Any]:
    """``(images, token ids)`` of the pairs ``cfg`` trains on (the rows of :func:`load_run`'s training)."""
    import torch

    from ..models.clip import data_key
    from ..train.fashion_clip import _data, _train_rows

    data = _data(*data_key(cfg))
    rows = torch.from_numpy(_train_rows(cfg, data["n_train"]))
    return data["images"][rows], data["ids"][rows]


def held_out_pairs(cfg: Any, n: int | None = None) -> tuple[Any, Any]:
    """``(images, token ids)`` of the first ``n`` (default all 10,000) held-out pairs of ``cfg``'s data."""
    from ..models.clip import data_key
    from ..train.fashion_clip import _data

    data = _data(*data_key(cfg))
    k = int(data["n_train"])
    end = None if n is None else k + int(n)
    return data["images"][k:end], data["ids"][k:end]


def fit_fashion(model: Any, cfg: Any, *, callbacks: Sequence[Any] = (), eval_every: int | None = None,
                device: str = "auto", progress: bool = False) -> Any:
    """Train ``model`` on ``cfg``'s training pairs with :func:`fashion_trainer`; returns the trainer.

    ``eval_every``: also record L2M, RMG and the paired cosine on the first 2,000 held-out
    pairs every k steps in ``trainer.history`` (as ``train_fashion_clip(eval_every=k)``).
    """
    train = training_pairs(cfg)
    trainer = fashion_trainer(model, cfg, len(train[0]), callbacks=callbacks, eval_every=eval_every,
                              eval_data=held_out_pairs(cfg, 2000) if eval_every else None, device=device,
                              progress=progress)
    trainer.fit(train)
    model.eval()
    model.cpu()
    return trainer


def cached_variant(cfg: Any, tag: str, model: Any, train: Any) -> tuple[dict[str, Any], bool]:
    """Weights of a variant of ``cfg``'s model (``tag`` names it) from the user cache, or trained and cached.

    ``train(model)`` trains ``model`` in place and returns its record (a dict of JSON values and
    arrays); on a cache hit the cached weights are loaded into ``model`` instead. Returns
    ``(record, cached)``. The file sits next to the trained models (``fashion_clip_<key>_<tag>.pt``,
    keyed by the config and so by :data:`~gaplab.models.clip.CACHE_VERSION` and the gaplab version).
    """
    from ..train._state import load_model_cache, save_cache
    from ..train.fashion_clip import _cache_folder

    folder = _cache_folder()
    key = f"{cfg.key()}-{tag}"
    path = None if folder is None else folder / f"fashion_clip_{cfg.key()}_{tag}.pt"
    if path is not None and path.exists():
        info = load_model_cache(path, model, kind="fashion-clip-model", what=f"Fashion-MNIST CLIP ({tag}) cache",
                                key=("key", key), record=("info", "training record"))
        if info is not None:
            model.eval()
            return info, True
    info = train(model)
    if path is not None:
        save_cache(path, {"model": model.state_dict(), "key": key, "info": info}, kind="fashion-clip-model",
                   what=f"Fashion-MNIST CLIP ({tag})")
    return info, False


def fashion_images(cfg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train images, train labels, held-out images, held-out labels)``: the images of ``cfg``'s training rows and the 10,000 test images.

    Images ``(N, 28, 28)`` float32 in [0, 1]; read from the Fashion-MNIST folder alone (no captions).
    """
    from ..data.fashion_mnist import load_fashion_mnist_pairs
    from ..train.fashion_clip import _train_rows

    raw = load_fashion_mnist_pairs(split="all", path=cfg.data_path)
    images = np.ascontiguousarray(raw.images, dtype=np.float32)
    labels = np.asarray(raw.labels, dtype=np.int64)
    n = int(sum(str(i).startswith("fashion-mnist/train/") for i in raw.ids))
    rows = _train_rows(cfg, n)
    return images[rows], labels[rows], images[n:], labels[n:]


def embed_pairs(model: Any, pairs: tuple[Any, Any], *, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Normalised float64 embeddings ``(x, y)`` of ``(images, token ids)`` (:func:`training_pairs`, :func:`held_out_pairs`), eval mode."""
    from ..models.adapters import resolve_device
    from ..train.fashion_clip import _embed

    dev = resolve_device(device)
    model.to(dev)
    try:
        return _embed(model, pairs[0], pairs[1], dev)
    finally:
        model.cpu()
