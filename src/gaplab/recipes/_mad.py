"""Shared machinery of the MAD recipes (paper 004): data, training, embedding, evaluation.

Not a recipe (leading underscore): ``information-imbalance``, ``caption-presence-bias``,
``dimension-ablation`` and ``neighbourhoods`` import it.

Training follows Appendix C of Schrodi et al. (ICLR 2025) scaled for two CPU cores, through
the engine (:class:`gaplab.train.Trainer`): CLIP loss with a learnable temperature (init
0.07), AdamW (weight decay 0.1), linear warm-up then cosine learning-rate decay, batch 128,
captions redrawn at every batch (:class:`MADBatches`). The paper's
200 epochs × 3 learning rates × 3 seeds at width 256 are replaced by a few epochs of a
width-64 model at lr 5e-4 (the largest of the paper's three learning rates, chosen
without a search: the short schedule needs the fast one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..data.mad import (
    ATTRIBUTES,
    FACTOR_NAMES,
    FACTORS,
    MADDataset,
    MADTokenizer,
    factor_prompts,
    make_mad,
)


@dataclass
class MADConfig:
    """One MAD training run."""

    n_train: int = 6000
    n_test: int = 1000
    image_size: int = 28
    epochs: int = 10
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_epochs: float = 1.0
    embed_dim: int = 32
    width: int = 64
    layers: int = 2
    heads: int = 4
    image_encoder: str = "cnn"
    n_attributes: int | None = 5
    presence: dict[str, float] | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """Hash of the config, the cache format and the gaplab version: a cached model's name."""
        from .. import __version__

        blob = json.dumps({"v": _CACHE_VERSION, "gaplab": __version__, **asdict(self)}, sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]


#: bump when training or the models change, so cached models are not reused
_CACHE_VERSION = 3


def cache_dir(out: Path | None = None) -> Path | None:
    """Where trained MAD models are cached: ``<user cache>/mad``, or ``None`` if it cannot be written.

    The user cache is that of :func:`gaplab._fs.cache_dir` (``$XDG_CACHE_HOME/gaplab`` or
    ``~/.cache/gaplab``, mode 0700), shared by every MAD recipe and run. ``out`` (the run
    folder) is not used: caches never live next to outputs. ``None`` means no caching (with a
    warning).
    """
    import warnings

    from .._fs import OutputError
    from .._fs import cache_dir as user_cache

    try:
        d = user_cache() / "mad"
        d.mkdir(mode=0o700, exist_ok=True)
        return d
    except (OutputError, OSError) as e:
        warnings.warn(f"MAD models are not cached: {e}", RuntimeWarning, stacklevel=2)
        return None


def scaled_config(quick: bool, **overrides: Any) -> MADConfig:
    """The recipes' default scale: full (a few minutes per recipe) or ``--quick`` (seconds)."""
    base: dict[str, Any]
    if quick:
        base = dict(n_train=1500, n_test=400, image_size=14, epochs=6, width=32, embed_dim=16, heads=2,
                    layers=1, batch_size=128, lr=2e-3)
    else:
        base = {}
    base.update({k: v for k, v in overrides.items() if v is not None})
    return MADConfig(**base)


@lru_cache(maxsize=4)
def mad_data(n_train: int, n_test: int, image_size: int, seed: int) -> tuple[MADDataset, MADDataset]:
    """Train and test MAD sets (disjoint source digits), cached in-process."""
    return (make_mad(n_train, seed=seed, image_size=image_size, split="train"),
            make_mad(n_test, seed=seed, image_size=image_size, split="test"))


def _torch_seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def build_model(cfg: MADConfig) -> Any:
    from ..models.mad import create_mad_clip

    _torch_seed(cfg.seed)
    patch = 7 if cfg.image_size % 7 == 0 else 4
    model = create_mad_clip(image_size=cfg.image_size, embed_dim=cfg.embed_dim, width=cfg.width,
                           layers=cfg.layers, heads=cfg.heads, image_encoder=cfg.image_encoder,
                           patch_size=patch)
    model.eval()
    return model


class MADBatches:
    """An iterable of ``(images, token ids)`` batches for :class:`gaplab.train.Trainer`.

    One pass = one epoch over a fresh permutation; every batch gets freshly drawn captions
    (which attributes are mentioned, their order), as in the paper's training.
    """

    def __init__(self, data: MADDataset, cfg: MADConfig) -> None:
        self.data, self.cfg = data, cfg
        self.rng = np.random.default_rng([cfg.seed, 7])
        self.tok = MADTokenizer()

    def __len__(self) -> int:
        return max(1, len(self.data) // self.cfg.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        import torch

        b = self.cfg.batch_size
        perm = self.rng.permutation(len(self.data))
        for i in range(len(self)):
            idx = np.sort(perm[i * b : (i + 1) * b])
            caps = self.data.captions(idx, n_attributes=self.cfg.n_attributes if self.cfg.presence is None else None,
                                      presence=self.cfg.presence, rng=self.rng)
            yield torch.from_numpy(self.data.images[idx]), torch.from_numpy(self.tok.encode(caps))


def train_mad(cfg: MADConfig, *, progress: bool = False, cache_dir: Path | None = None,
              init: dict[str, Any] | None = None) -> tuple[Any, dict]:
    """Train a MAD CLIP model with the engine; returns ``(model, history)``.

    ``gaplab.train.Trainer``: CLIP loss, learnable temperature (init 0.07), AdamW with weight
    decay ``cfg.weight_decay`` (the engine applies it to every model parameter, not only to
    weight matrices as CLIP does), linear warm-up then cosine decay of the learning rate.
    Cached on disk under ``cache_dir`` (keyed by a hash of the config and the gaplab version;
    tensors + JSON, loaded without running code), so recipes sharing a model train it once;
    an unreadable cache file is ignored (with a warning) and replaced.

    Other objectives and fine-tuning read ``cfg.extra`` (empty by default: the CLIP run above;
    see :func:`train_options`): ``loss``, ``loss_kwargs``, ``temperature_init``,
    ``siglip_bias``; ``init`` (a model state dict) starts from those weights instead of the
    seed's initialisation and needs ``cfg.extra["init_from"]`` naming them (so the cache key
    differs; :func:`finetune_mad` sets both). A SigLIP run's learned bias is recorded in the
    history as ``bias`` (one value, at the end).
    """
    from ..train import Trainer
    from ..train.callbacks import Callback
    from ..train.schedules import warmup_cosine_schedule

    options = train_options(cfg, init)
    model = _start_model(cfg, init)
    path = None if cache_dir is None else Path(cache_dir) / f"mad_model_{cfg.key()}.pt"
    if path is not None and path.exists():
        from ..train._state import load_model_cache

        cached = load_model_cache(path, model, kind="mad-model", what="MAD model cache",
                                  key=("config", asdict(cfg)), record=("history", "training history"))
        if cached is not None:
            model.eval()
            return model, cached
        model = _start_model(cfg, init)  # retrain from the same initialisation
    train, _ = mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
    batches = MADBatches(train, cfg)
    steps = len(batches) * cfg.epochs
    warm = min(steps - 1, int(round(cfg.warmup_epochs * len(batches))))
    history: dict[str, list[float]] = {"loss": [], "temperature": []}

    class _Log(Callback):
        def on_step_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
            history["loss"].append(logs["loss"])
            history["temperature"].append(logs["temperature"])

    trainer = Trainer(model, **options, optimizer="adamw",
                      lr=warmup_cosine_schedule(0.0, cfg.lr, warm, steps), weight_decay=cfg.weight_decay,
                      batch_size=cfg.batch_size, steps=steps, seed=cfg.seed, callbacks=[_Log()],
                      progress=progress)
    trainer.fit(batches)
    model.eval()
    if getattr(trainer.engine, "bias", None) is not None:
        history["bias"] = [float(trainer.engine.bias.detach())]
    if path is not None:
        from ..train._state import save_cache

        save_cache(path, {"model": model.state_dict(), "history": history, "config": asdict(cfg)},
                   kind="mad-model", what="MAD model")
    return model, history


def embed_images(model: Any, images: np.ndarray, batch: int = 512) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(model.encode_image(torch.from_numpy(images[i : i + batch])).numpy())
    return np.concatenate(out).astype(np.float64)


def embed_texts(model: Any, captions: list[str], batch: int = 1024) -> np.ndarray:
    import torch

    tok = MADTokenizer()
    out = []
    with torch.no_grad():
        for i in range(0, len(captions), batch):
            out.append(model.encode_text(torch.from_numpy(tok.encode(captions[i : i + batch]))).numpy())
    return np.concatenate(out).astype(np.float64)


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def factor_text_embeddings(model: Any) -> dict[str, np.ndarray]:
    """One-word prompt embedding of every value of every factor, ``{factor: (n_values, d)}``."""
    return {f: embed_texts(model, factor_prompts(f)) for f in FACTOR_NAMES}


def ensemble_prompts(model: Any, k: int | None, *, n_per_value: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Class embeddings from captions of the training distribution (CLIP's prompt ensembling).

    For factor f and value v: ``n_per_value`` captions that mention v, the digit (a random one
    unless f is the digit) and enough random other attributes to total ``k`` attributes
    (k = None: one of each other factor with probability 0.5), their normalised text
    embeddings averaged. Unlike a one-word prompt ("7") these captions look like the ones
    the model was trained on, whatever k was.
    """
    from ..data.mad import make_caption

    rng = np.random.default_rng([seed, 5])
    out = {}
    for f in FACTOR_NAMES:
        fi = FACTOR_NAMES.index(f)
        caps = []
        for v in range(len(FACTORS[f])):
            for _ in range(n_per_value):
                vals = [int(rng.integers(len(FACTORS[g]))) for g in FACTOR_NAMES]
                vals[fi] = v
                others = [a for a in ATTRIBUTES if a != f]
                if k is None:
                    extra = [a for a in others if rng.random() < 0.5]
                    names = [f] + extra + (["digit"] if f != "digit" and rng.random() < 0.5 else [])
                else:
                    n_extra = k - (1 if f != "digit" else 0)
                    extra = list(rng.permutation(others)[: max(0, n_extra)])
                    names = [f] + extra + (["digit"] if f != "digit" else [])
                caps.append(make_caption(vals, names, rng))
        e = unit(embed_texts(model, caps)).reshape(len(FACTORS[f]), n_per_value, -1).mean(1)
        out[f] = e
    return out


def variance_share(emb: np.ndarray, labels: np.ndarray) -> float:
    """Share of the (normalised) embedding's total variance explained by a factor's value means (R²)."""
    e = unit(emb)
    mu = e.mean(0)
    total = float(((e - mu) ** 2).sum(1).mean())
    classes, inv = np.unique(labels, return_inverse=True)
    means = np.zeros((classes.size, e.shape[1]))
    np.add.at(means, inv, e)
    means /= np.bincount(inv)[:, None]
    between = float((((means[inv] - mu) ** 2).sum(1)).mean())
    return between / total if total > 0 else 0.0


def matching_score(img: np.ndarray, txt: np.ndarray) -> float:
    """MOAD's bracket for one factor: mean paired cosine minus mean unpaired cosine (rows aligned)."""
    from ..metrics import moad

    # moad(x, o, a) = (S(x, o) − S(x, a)) / 4 with S this score; a constant reference r has
    # S(x, r) = 0 (paired and unpaired cosines coincide), so S(x, o) = 4 · moad(x, o, r).
    const = np.zeros_like(txt)
    const[:, 0] = 1.0
    return 4.0 * moad(img, txt, const)


def evaluate(model: Any, test: MADDataset, cfg: MADConfig, *, rng_seed: int = 1) -> dict[str, Any]:
    """Gap, object bias and accuracy of a trained model on the MAD test set."""
    from ..metrics import l2m, moad, rmg, zero_shot_accuracy

    x = embed_images(model, test.images)
    caps = test.captions(n_attributes=cfg.n_attributes if cfg.presence is None else None,
                         presence=cfg.presence, rng=rng_seed)
    y = embed_texts(model, caps)
    y_full = embed_texts(model, test.full_captions(rng=rng_seed))
    words = factor_text_embeddings(model)
    zs_word = {f: zero_shot_accuracy(x, words[f], test.factor(f)) for f in FACTOR_NAMES}
    prompts = ensemble_prompts(model, cfg.n_attributes if cfg.presence is None else None, seed=rng_seed)
    zs = {f: zero_shot_accuracy(x, prompts[f], test.factor(f)) for f in FACTOR_NAMES}
    per_sample_text = {f: prompts[f][test.factor(f)] for f in FACTOR_NAMES}
    moads = {a: moad(x, per_sample_text["digit"], per_sample_text[a]) for a in ATTRIBUTES}
    match = {f: matching_score(x, per_sample_text[f]) for f in FACTOR_NAMES}
    match_txt = {f: matching_score(y_full, per_sample_text[f]) for f in FACTOR_NAMES}
    share_img = {f: variance_share(x, test.factor(f)) for f in FACTOR_NAMES}
    share_txt = {f: variance_share(y_full, test.factor(f)) for f in FACTOR_NAMES}
    return {
        "l2m": l2m(x, y),
        "rmg": rmg(x, y),
        "l2m_full_captions": l2m(x, y_full),
        "rmg_full_captions": rmg(x, y_full),
        "zero_shot": zs,
        "zero_shot_attributes_mean": float(np.mean([zs[a] for a in ATTRIBUTES])),
        "zero_shot_one_word": zs_word,
        "moad_per_attribute": moads,
        "moad": float(np.mean(list(moads.values()))),
        "matching_score": match,
        "matching_score_text": match_txt,
        "variance_share_image": share_img,
        "variance_share_text": share_txt,
        "ideal_words_accuracy": ideal_words_accuracy(x, y_full, test),
    }


def ideal_words(text_emb: np.ndarray, test: MADDataset) -> dict[str, np.ndarray]:
    """Trager et al. (ICCV 2023) ideal words: u_v = E[ŷ | value v] − E[ŷ], per factor (n_values, d)."""
    t = unit(text_emb)
    mu = t.mean(0)
    out = {}
    for f in FACTOR_NAMES:
        lab = test.factor(f)
        out[f] = np.stack([t[lab == v].mean(0) - mu if np.any(lab == v) else np.zeros_like(mu)
                           for v in range(len(FACTORS[f]))])
    return out


def ideal_words_accuracy(img_emb: np.ndarray, full_text_emb: np.ndarray, test: MADDataset) -> float:
    """Zero-shot accuracy with ideal words as class embeddings, mean over the six factors."""
    from ..metrics import zero_shot_accuracy

    words = ideal_words(full_text_emb, test)
    xc = unit(img_emb)
    xc = xc - xc.mean(0)
    return float(np.mean([zero_shot_accuracy(xc, words[f], test.factor(f)) for f in FACTOR_NAMES]))


def init_gap(cfg: MADConfig) -> dict[str, float]:
    """L2M / RMG of the untrained model (same seed) on the test set: the initialisation gap."""
    from ..metrics import l2m, rmg

    model = build_model(cfg)
    model.eval()
    _, test = mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
    x = embed_images(model, test.images)
    y = embed_texts(model, test.captions(n_attributes=cfg.n_attributes or 5, rng=1))
    return {"l2m": l2m(x, y), "rmg": rmg(x, y)}


# --------------------------------------------------------------------------- other objectives, fine-tuning
# (``modality-arithmetic``, ``siglip-gap``, ``fairness-shift``)

#: a ``--quick`` scale whose models learn the digit (overrides of :func:`scaled_config`): the stock
#: quick models (1,500 images, 6 epochs, width 32) leave zero-shot digit accuracy at chance
#: (0.10), so nothing that needs the digit can be judged; these reach ≈ 0.5 (seed 0, tried once,
#: before any claim was run), at about 8× a stock quick model's cost
QUICK_LEARNED = {"n_train": 3000, "epochs": 15, "width": 64, "embed_dim": 32}

#: SigLIP's initialisation (Zhai et al., ICCV 2023, §3): t' = log 10, so τ = 0.1, and bias b = −10
SIGLIP_INIT = {"temperature_init": 0.1, "siglip_bias": -10.0}


def train_options(cfg: MADConfig, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """The objective part of :func:`train_mad`'s Trainer options, read from ``cfg.extra``.

    Empty ``extra``: ``{"loss": "clip", "temperature": "learnable"}`` (CLIP, learnable τ from
    0.07). Keys: ``loss`` (a :func:`gaplab.train.list_losses` name), ``loss_kwargs``,
    ``temperature_init`` (the learnable τ's start), ``fixed_temperature`` (a fixed τ instead
    of a learnable one), ``siglip_bias`` (SigLIP's bias start), ``init_from`` (required with
    ``init``); any other key is a :class:`~gaplab.ConfigError`.

    Examples
    --------
    >>> train_options(MADConfig())
    {'loss': 'clip', 'temperature': 'learnable'}
    >>> train_options(MADConfig(extra={"loss": "siglip", **SIGLIP_INIT}))["temperature"]
    {'name': 'learnable', 'init': 0.1}
    """
    from .._errors import ConfigError

    ex = dict(cfg.extra)
    known = {"loss", "loss_kwargs", "temperature_init", "fixed_temperature", "siglip_bias", "init_from"}
    bad = sorted(set(ex) - known)
    if bad:
        raise ConfigError(f"train_mad: unknown MADConfig.extra key(s) {bad}; valid: {sorted(known)}")
    if (init is None) != ("init_from" not in ex):
        raise ConfigError("train_mad: init (start weights) and MADConfig.extra['init_from'] (their name, "
                          f"part of the cache key) go together; got init {'given' if init is not None else 'None'}"
                          f" and extra {ex}")
    out: dict[str, Any] = {"loss": ex.get("loss", "clip")}
    if "loss_kwargs" in ex:
        out["loss_kwargs"] = dict(ex["loss_kwargs"])
    if "fixed_temperature" in ex and "temperature_init" in ex:
        raise ConfigError("train_mad: MADConfig.extra has both fixed_temperature and temperature_init; give one")
    if "fixed_temperature" in ex:
        out["temperature"] = float(ex["fixed_temperature"])
    else:
        out["temperature"] = ("learnable" if "temperature_init" not in ex
                              else {"name": "learnable", "init": float(ex["temperature_init"])})
    if "siglip_bias" in ex:
        out["siglip_bias"] = float(ex["siglip_bias"])
    return out


def _start_model(cfg: MADConfig, init: dict[str, Any] | None) -> Any:
    model = build_model(cfg)
    if init is not None:
        model.load_state_dict(init)
    return model


def objective_config(quick: bool, loss: str, **overrides: Any) -> MADConfig:
    """:func:`scaled_config` trained with ``loss`` (``clip``: the shared CLIP config, same cache key).

    SigLIP starts from :data:`SIGLIP_INIT`; CUA (paper 003) uses CLIP's learnable τ and the
    loss's unit weights.
    """
    extra: dict[str, Any] = {}
    if loss != "clip":
        extra["loss"] = loss
    if loss == "siglip":
        extra.update(SIGLIP_INIT)
    return scaled_config(quick, extra=extra, **overrides)


def finetune_mad(
    parent: MADConfig, model: Any, history: dict, *, progress: bool = False, cache_dir: Path | None = None,
    **changes: Any,
) -> tuple[Any, dict, MADConfig]:
    """Continue training ``model`` (trained with ``parent``) under ``parent`` with ``changes``.

    E.g. ``n_attributes=5, epochs=3`` fine-tunes on richer captions. The learnable τ (and a
    SigLIP bias) start where the parent's training ended (``history``), the weights are
    the parent's (``model`` is not modified); the child config names the parent's key in
    ``extra["init_from"]``, so it is cached on its own. Returns ``(model, history, config)``.
    """
    import copy
    from dataclasses import replace

    extra = {**parent.extra, "init_from": parent.key(), "temperature_init": float(history["temperature"][-1])}
    if "bias" in history:
        extra["siglip_bias"] = float(history["bias"][-1])
    child = replace(parent, extra=extra, **changes)
    state = copy.deepcopy(model.state_dict())
    m, h = train_mad(child, progress=progress, cache_dir=cache_dir, init=state)
    return m, h, child


def heldout_pairs(model: Any, test: MADDataset, *, n_attributes: int | None = 5, rng: int = 1
               ) -> tuple[np.ndarray, np.ndarray]:
    """Unit image and caption embeddings of the MAD test set (one caption per image, ``n_attributes``)."""
    x = embed_images(model, test.images)
    y = embed_texts(model, test.captions(n_attributes=n_attributes, rng=rng))
    return unit(x), unit(y)
