"""Train the from-scratch Fashion-MNIST CLIP (``gaplab-clip-fashion``) and embed its held-out pairs.

The architecture, its config and tokenizer are in :mod:`gaplab.models.clip`; this module
holds what needs the training engine: the data (composed captions, token ids, cached on
disk), :func:`train_fashion_clip` (train with :class:`gaplab.train.Trainer`, or load the
trained weights from the user cache), :func:`evaluate_fashion_clip` and
:func:`fashion_clip_embeddings` (what a recipe needs: normalised embeddings of the held-out
pairs and of the 10 class prompts, with labels). See :mod:`gaplab.models.clip` for the
recipe, the temperature choice and the cache format.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import InputError
from ..models.clip import (
    CACHE_VERSION,
    FashionCLIPConfig,
    WordPieceTokenizer,
    _build,
    data_key,
    fashion_clip_config,
)
from ..models.towers import TwoTower
from ._state import load_model_cache, load_state, save_cache

__all__ = ["FashionCLIPRun", "FashionCLIPEmbeddings", "train_fashion_clip", "evaluate_fashion_clip",
           "fashion_clip_embeddings"]


# -- data --------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _data(caption_seed: int, min_attributes: int, max_attributes: int, context_length: int,
          path: str | None = None) -> dict[str, Any]:
    """Train/test images, token ids, labels, captions and class-prompt ids (in-process cache).

    The composed captions and their token ids are also cached on disk (next to the weights),
    so later runs skip composing and tokenizing 70,000 captions.
    """
    from ..data.fashion_captions import fashion_class_prompts, load_fashion_captions
    from ..data.fashion_mnist import fashion_mnist_path, load_fashion_mnist_pairs

    folder = fashion_mnist_path(path)
    blob = json.dumps({"v": CACHE_VERSION, "captions": [caption_seed, min_attributes, max_attributes],
                       "ctx": context_length, "folder": str(folder)}, sort_keys=True)
    cdir = _cache_folder()
    file = None if cdir is None or folder is None else cdir / f"data_{hashlib.sha256(blob.encode()).hexdigest()[:24]}.pt"
    raw = load_fashion_mnist_pairs(split="all", path=path)  # the missing-data error comes from here
    assert raw.labels is not None
    images = torch.from_numpy(np.ascontiguousarray(raw.images, dtype=np.float32)).unsqueeze(1)
    n_train = int(sum(str(i).startswith("fashion-mnist/train/") for i in raw.ids))
    state = _read_data_cache(file, len(raw))
    if state is None:
        ds = load_fashion_captions(split="all", seed=caption_seed, min_attributes=min_attributes,
                                   max_attributes=max_attributes, path=path)
        tok = WordPieceTokenizer(context_length)
        prompts = fashion_class_prompts()
        state = {"ids": tok.encode(ds.captions).to(torch.int32), "captions": list(ds.captions),
                 "prompt_ids": tok.encode([q for ps in prompts for q in ps]).to(torch.int32),
                 "n_prompts": len(prompts[0])}
        if file is not None:
            save_cache(file, state, kind="fashion-clip-data", what="Fashion-MNIST captions")
    return {"images": images, "ids": state["ids"].long(), "labels": np.asarray(raw.labels), "captions": state["captions"],
            "n_train": n_train, "prompt_ids": state["prompt_ids"].long(), "n_prompts": int(state["n_prompts"])}


def _read_data_cache(file: Path | None, n: int) -> dict[str, Any] | None:
    if file is None or not file.exists():
        return None
    try:
        st = load_state(file, kind="fashion-clip-data", what="Fashion-MNIST caption cache", map_location="cpu")
        if not isinstance(st, dict) or len(st["captions"]) != n or st["ids"].shape[0] != n:
            raise InputError(f"Fashion-MNIST caption cache {str(file)!r} does not fit the data")
    except (InputError, KeyError, TypeError, AttributeError) as e:
        warnings.warn(f"ignoring the Fashion-MNIST caption cache: {str(e).splitlines()[0]}", RuntimeWarning, stacklevel=3)
        return None
    return st


def _train_rows(cfg: FashionCLIPConfig, n_train: int) -> np.ndarray:
    if cfg.n_train is None or cfg.n_train >= n_train:
        return np.arange(n_train)
    rng = np.random.default_rng([cfg.seed, 3])
    return np.sort(rng.choice(n_train, int(cfg.n_train), replace=False))


# -- cache -------------------------------------------------------------------------------------
def _cache_folder() -> Path | None:
    """``<user cache>/fashion-clip`` (see :func:`gaplab._fs.cache_dir`), or ``None`` (with a warning)."""
    from .._fs import OutputError, cache_dir

    try:
        d = cache_dir() / "fashion-clip"
        d.mkdir(mode=0o700, exist_ok=True)
    except (OutputError, OSError) as e:
        warnings.warn(f"the Fashion-MNIST CLIP is not cached: {e}", RuntimeWarning, stacklevel=3)
        return None
    return d


def _cache_file(cfg: FashionCLIPConfig) -> Path | None:
    d = _cache_folder()
    return None if d is None else d / f"fashion_clip_{cfg.key()}.pt"


# -- training ----------------------------------------------------------------------------------
@dataclass
class FashionCLIPRun:
    """A trained model and its record: ``config``, ``history`` (Trainer records), ``metrics`` (held-out)."""

    model: TwoTower
    config: FashionCLIPConfig
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    init_metrics: dict[str, Any]
    train_seconds: float
    cached: bool


@dataclass
class FashionCLIPEmbeddings:
    """Normalised float64 embeddings of the 10,000 held-out pairs and of the class prompts."""

    image: np.ndarray  # (N, d)
    text: np.ndarray  # (N, d); row i is the caption of image i
    labels: np.ndarray  # (N,) int64, 0–9
    class_text: np.ndarray  # (10, d): prompt-ensembled class embeddings
    captions: list[str]


def _temperature_spec(t: Any) -> Any:
    if t == "learnable":
        return {"name": "learnable", "init": 0.07, "max_scale": 100.0}
    return t


def train_fashion_clip(
    seed: int = 0,
    quick: bool = False,
    *,
    device: str = "auto",
    progress: bool = True,
    cache: bool = True,
    config: FashionCLIPConfig | None = None,
    eval_every: int | None = None,
    **overrides: Any,
) -> FashionCLIPRun:
    """Train the Fashion-MNIST CLIP from scratch (or load it from the user cache) and evaluate it.

    Parameters
    ----------
    seed : int
        Seeds the initial weights, the training subset and the batch order (same seed, same
        numbers on CPU).
    quick : bool
        The ≈ 2-minute variant (15,000 images, 4 epochs, width 64).
    device : {"auto", "cpu", "cuda"}
        ``auto``: CUDA when present. The cache key does not include the device.
    progress : bool
        A tqdm bar on stderr.
    cache : bool
        Read and write ``<user cache>/fashion-clip``.
    config : FashionCLIPConfig, optional
        A full config (then ``quick``, ``seed`` and ``overrides`` are ignored).
    eval_every : int, optional
        Also record held-out gap metrics every k steps in ``history``.
    **overrides
        Fields of :class:`FashionCLIPConfig` (``temperature=0.07`` fixes τ, ...).

    Returns
    -------
    FashionCLIPRun
        ``metrics`` holds ``l2m``, ``rmg``, ``linear_separability``, ``zero_shot``,
        ``i2t_r1``, ``t2i_r1``, ``temperature``; ``init_metrics`` the same at step 0.
    """
    from . import Trainer
    from .schedules import warmup_cosine_schedule

    cfg = config if config is not None else fashion_clip_config(quick=quick, seed=seed, **overrides)
    model = _build(cfg)
    path = _cache_file(cfg) if cache else None
    if path is not None and path.exists():
        info = load_model_cache(path, model, kind="fashion-clip-model", what="Fashion-MNIST CLIP cache",
                                key=("key", cfg.key()), record=("info", "training record"))
        if info is not None:
            model.eval()
            return FashionCLIPRun(model, cfg, info["history"], info["metrics"], info["init_metrics"],
                                  float(info["train_seconds"]), True)
        model = _build(cfg)
    data = _data(*data_key(cfg))
    rows = torch.from_numpy(_train_rows(cfg, data["n_train"]))
    train = (data["images"][rows], data["ids"][rows])
    test = _test_split(data)
    init_metrics = evaluate_fashion_clip(model, device=device)
    steps_per_epoch = len(rows) // cfg.batch_size
    steps = max(2, int(round(cfg.epochs * steps_per_epoch)))
    warm = min(steps - 1, int(round(cfg.warmup_fraction * steps)))
    trainer = Trainer(
        model, loss="clip", temperature=_temperature_spec(cfg.temperature), optimizer="adamw",
        lr=warmup_cosine_schedule(0.0, cfg.lr, warm, steps), weight_decay=cfg.weight_decay,
        batch_size=cfg.batch_size, steps=steps, seed=cfg.seed, device=device, progress=progress,
        drop_last=True, mismatch=cfg.mismatch, mismatch_mode="fixed", eval_every=eval_every, metrics=["l2m", "rmg", "mean_cos_paired"],
        eval_data=(test["images"][:2000], test["ids"][:2000]) if eval_every else None,
    )
    t0 = time.perf_counter()
    trainer.fit(train)
    seconds = time.perf_counter() - t0
    model.eval()
    model.cpu()
    metrics = evaluate_fashion_clip(model, device=device)
    metrics["temperature"] = trainer.temperature_value()
    metrics["steps"] = steps
    run = FashionCLIPRun(model, cfg, list(trainer.history.records), metrics, init_metrics, seconds, False)
    if path is not None:
        info = {"history": run.history, "metrics": metrics, "init_metrics": init_metrics, "train_seconds": seconds,
                "config": asdict(cfg)}
        save_cache(path, {"model": model.state_dict(), "key": cfg.key(), "info": info}, kind="fashion-clip-model",
                   what="Fashion-MNIST CLIP")
    return run


def _test_split(data: dict[str, Any]) -> dict[str, Any]:
    n = data["n_train"]
    return {"images": data["images"][n:], "ids": data["ids"][n:], "labels": np.asarray(data["labels"][n:]),
            "captions": data["captions"][n:]}


@torch.no_grad()
def _embed(model: TwoTower, images: Tensor, ids: Tensor, device: Any, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    was = model.training
    model.eval()
    try:
        xs, ys = [], []
        for i in range(0, images.shape[0], batch):
            xs.append(F.normalize(model.encode_image(images[i : i + batch].to(device)), dim=-1).double().cpu())
            ys.append(F.normalize(model.encode_text(ids[i : i + batch].to(device)), dim=-1).double().cpu())
        return torch.cat(xs).numpy(), torch.cat(ys).numpy()
    finally:
        model.train(was)


@torch.no_grad()
def _class_text(model: TwoTower, data: dict[str, Any], device: Any) -> np.ndarray:
    was = model.training
    model.eval()
    try:
        t = F.normalize(model.encode_text(data["prompt_ids"].to(device)), dim=-1).double().cpu().numpy()
    finally:
        model.train(was)
    t = t.reshape(-1, data["n_prompts"], t.shape[-1]).mean(1)
    return t / np.linalg.norm(t, axis=1, keepdims=True)


def _held_out(model: TwoTower, device: Any) -> FashionCLIPEmbeddings:
    from ..models.adapters import resolve_device

    dev = resolve_device(device)
    key = getattr(model, "gaplab_data", None)
    if key is None:
        raise InputError("evaluate_fashion_clip: not a model built by create_fashion_clip")
    data = _data(*key)
    test = _test_split(data)
    model.to(dev)
    try:
        x, y = _embed(model, test["images"], test["ids"], dev)
        c = _class_text(model, data, dev)
    finally:
        model.cpu()
    return FashionCLIPEmbeddings(x, y, test["labels"].astype(np.int64), c, list(test["captions"]))


def evaluate_fashion_clip(model: TwoTower, *, device: str = "auto") -> dict[str, Any]:
    """Gap and task metrics of ``model`` on the 10,000 held-out Fashion-MNIST pairs.

    ``l2m``, ``rmg`` (Schrodi et al., ICLR 2025), ``linear_separability`` of the two
    modalities (Shi et al., 2023), ``zero_shot`` accuracy over the 10 prompt-ensembled class
    prompts, and retrieval R@1 both ways (``i2t_r1``, ``t2i_r1``).
    """
    from ..metrics import l2m, linear_separability, retrieval_recall, rmg, zero_shot_accuracy

    e = _held_out(model, device)
    r = retrieval_recall(e.image, e.text, ks=(1,))
    return {
        "l2m": float(l2m(e.image, e.text)),
        "rmg": float(rmg(e.image, e.text)),
        "linear_separability": float(linear_separability(e.image, e.text, max_pairs=5000)),
        "zero_shot": float(zero_shot_accuracy(e.image, e.class_text, e.labels)),
        "mean_cos_paired": float(np.mean(np.sum(e.image * e.text, axis=1))),
        **{k: float(v) for k, v in r.items()},
    }


def fashion_clip_embeddings(seed: int = 0, quick: bool = False, *, device: str = "auto",
                            progress: bool = True, **overrides: Any) -> FashionCLIPEmbeddings:
    """Held-out embeddings of the built-in trained model: what a recipe needs.

    Trains on first use (see :func:`train_fashion_clip`; ``overrides`` are config fields,
    e.g. ``temperature="learnable"``), then reads the user cache. Returns
    :class:`FashionCLIPEmbeddings` (``image``, ``text``, ``labels``, ``class_text``,
    ``captions``) for the 10,000 Fashion-MNIST test pairs, rows normalised, float64.
    """
    run = train_fashion_clip(seed, quick, device=device, progress=progress, **overrides)
    return _held_out(run.model, device)
