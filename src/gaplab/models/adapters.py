"""One small encoder protocol and adapters for real two-tower models, all offline.

An encoder has ``name``, ``encode_image(batch) -> (n, d)`` and ``encode_text(list[str]) ->
(n, d)``, both returning float32 numpy arrays (not normalised). Adapters:

* :class:`HFCLIPEncoder`: Hugging Face ``CLIPModel`` and ``SiglipModel`` from a local folder
  (or a name already in the Hugging Face cache), ``local_files_only=True``;
* :class:`SentenceTransformerEncoder`: a sentence-transformers text encoder (text only);
* :class:`TorchEncoder`: any ``nn.Module`` with ``encode_image``/``encode_text`` (the
  ``TwoTower`` of :mod:`gaplab.models`, the built-in models);
* :class:`CallableEncoder`: any pair of Python callables.

:func:`create_encoder` turns a ``--model`` value (built-in name, folder, cached name) into an
encoder; :func:`embed_dataset` encodes a :class:`~gaplab.data.PairedDataset` in batches with
a progress bar. Nothing ever downloads: a model that is not on disk is an
:class:`~gaplab.InputError` saying how to point at local weights.

Images may be given as arrays ((B, H, W), (B, H, W, C) or (B, C, H, W), floats in [0, 1] or
uint8), PIL images, or file paths (decoded with PIL).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._errors import ConfigError, InputError
from .._validation import check_texts, to_numpy
from ..data._dataset import PairedDataset
from ..data.images import to_pil_images
from ..data.zero_shot import encode_batched

__all__ = [
    "Encoder",
    "CallableEncoder",
    "TorchEncoder",
    "HFCLIPEncoder",
    "SentenceTransformerEncoder",
    "create_encoder",
    "embed_dataset",
    "embed_to_file",
    "resolve_device",
    "WEIGHT_FILES",
    "TOKENIZER_FILES",
]

#: files that hold Hugging Face weights (one of them must be in a model folder)
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
HF_KINDS = ("clip", "siglip")

#: files that hold a tokenizer's vocabulary (one of them, or vocab.json with merges.txt, must
#: be in a model folder: without them transformers 5 builds an *empty* tokenizer silently)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "vocab.txt")
_BPE_FILES = ("vocab.json", "merges.txt")
_NO_TOKENIZER_FIX = "save the tokenizer beside the weights with tokenizer.save_pretrained(DIR)"

_HOW_TO_LOCAL = (
    "nothing is downloaded at run time: on a machine with network run "
    "`hf download {name} --local-dir DIR` (or model.save_pretrained(DIR) plus "
    "processor.save_pretrained(DIR)), copy DIR here and pass --model DIR"
)


@runtime_checkable
class Encoder(Protocol):
    """What ``gaplab embed`` and the zero-shot helpers need from a model."""

    name: str

    def encode_image(self, batch: Any) -> np.ndarray:
        """Embed a batch of B images: a float32 array of shape ``(B, d)``, one row per image."""

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed B captions: a float32 array of shape ``(B, d)``, one row per caption."""


def _as_float32(out: Any, n: int, where: str) -> np.ndarray:
    if hasattr(out, "pooler_output") and not hasattr(out, "shape"):  # transformers output object
        out = out.pooler_output
    arr = to_numpy(out)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputError(f"{where}: expected one embedding row per input ({n}, d), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


class CallableEncoder:
    """Any pair of Python callables as an encoder.

    Examples
    --------
    >>> enc = CallableEncoder(lambda b: np.ones((len(b), 2)), lambda t: np.zeros((len(t), 2)) + 1)
    >>> enc.encode_text(["a", "b"]).shape, enc.encode_image(np.zeros((3, 4, 4))).dtype
    ((2, 2), dtype('float32'))
    """

    def __init__(
        self,
        image_fn: Callable[[Any], Any] | None = None,
        text_fn: Callable[[list[str]], Any] | None = None,
        *,
        name: str = "callables",
    ) -> None:
        self.image_fn = image_fn
        self.text_fn = text_fn
        self.name = name

    def encode_image(self, batch: Any) -> np.ndarray:
        """``image_fn(batch)`` as a float32 array of shape ``(B, d)``, one row per image.

        Raises :class:`InputError` when no ``image_fn`` was given or its output is not
        one row per image.
        """
        if self.image_fn is None:
            raise InputError(f"{self.name}: no image encoder was given")
        return _as_float32(self.image_fn(batch), len(batch), f"{self.name}.encode_image")

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """``text_fn(texts)`` as a float32 array of shape ``(B, d)``, one row per caption.

        Raises :class:`InputError` when no ``text_fn`` was given, ``texts`` are not strings
        or the output is not one row per caption.
        """
        if self.text_fn is None:
            raise InputError(f"{self.name}: no text encoder was given")
        texts = check_texts(texts, f"{self.name}.encode_text")
        return _as_float32(self.text_fn(texts), len(texts), f"{self.name}.encode_text")


#: the torch device types gaplab runs on
DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device: Any = "auto") -> Any:
    """The ``torch.device`` for ``device``: ``None`` or ``"auto"`` → cuda when available, else cpu.

    Takes a ``torch.device`` (returned as it is) or a string: ``"cpu"``, ``"cuda"``,
    ``"cuda:1"``, ``"mps"``. The one device resolver of the encoders and the trainer.

    Raises :class:`ConfigError` for an unknown device or a GPU (cuda, mps) that is not there.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ConfigError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N, mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA GPU; use cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} asked for, but MPS is not available; use cpu or auto")
    return dev


def _resolve_fp16(fp16: bool | None, dev: Any) -> bool:
    if fp16 is None:
        return dev.type == "cuda"
    if fp16 and dev.type == "cpu":
        raise ConfigError("fp16 runs on a GPU only; drop --fp16 or pass --device cuda")
    return bool(fp16)


class TorchEncoder:
    """An ``nn.Module`` with ``encode_image``/``encode_text`` (e.g. a ``TwoTower``) as an encoder.

    The module runs in eval mode without gradients, inputs are moved to ``device`` (as
    float16 with ``fp16``), and outputs come back as float32 numpy arrays.
    """

    def __init__(self, module: Any, *, name: str | None = None, device: str | None = "cpu", fp16: bool | None = False) -> None:
        import torch

        self.device = resolve_device(device)
        self.fp16 = _resolve_fp16(fp16, self.device)
        self.module = module.to(self.device)
        if self.fp16:
            self.module = self.module.half()
        self.module.eval()
        self.name = name or type(module).__name__
        self._torch = torch

    def _prepare_images(self, batch: Any) -> Any:
        torch = self._torch
        if isinstance(batch, torch.Tensor):
            x = batch
        elif isinstance(batch, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        else:  # paths / PIL: let the module's own preprocessing handle them
            return batch
        dtype = torch.float16 if self.fp16 else torch.float32
        return x.to(self.device, dtype)

    def encode_image(self, batch: Any) -> np.ndarray:
        """The module's image embeddings of ``batch``: float32, shape ``(B, d)``.

        Arrays and tensors are moved to ``device``; paths or PIL images go to the module as given.
        """
        with self._torch.no_grad():
            out = self.module.encode_image(self._prepare_images(batch))
        return _as_float32(out, len(batch), f"{self.name}.encode_image")

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """The module's text embeddings of ``texts``: float32, shape ``(B, d)``."""
        texts = check_texts(texts, f"{self.name}.encode_text")
        with self._torch.no_grad():
            out = self.module.encode_text(texts)
        return _as_float32(out, len(texts), f"{self.name}.encode_text")


def _check_hf_folder(p: Path) -> dict[str, Any]:
    """config.json of a model folder, after checking the weights are there."""
    cfg_file = p / "config.json"
    if not cfg_file.is_file():
        raise InputError(
            f"{p}: folder has no config.json, so it holds no Hugging Face model; "
            "save one with model.save_pretrained(DIR) and processor.save_pretrained(DIR)"
        )
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{cfg_file}: unreadable config ({type(e).__name__}: {e})") from None
    if not (p / "modules.json").is_file() and not any((p / f).is_file() for f in WEIGHT_FILES):
        raise InputError(
            f"{p}: folder has a config.json but no weights ({', '.join(WEIGHT_FILES[::2])}); "
            "copy the weight files next to it"
        )
    return cfg


def _check_tokenizer_files(p: Path) -> None:
    """Refuse a model folder without tokenizer files with an :class:`InputError`.

    Without them transformers 5 would return an empty tokenizer that maps every caption to
    the same tokens.
    """
    if any((p / f).is_file() for f in TOKENIZER_FILES) or all((p / f).is_file() for f in _BPE_FILES):
        return
    half = [f for f in _BPE_FILES if (p / f).is_file()]
    got = f" (it has {half[0]} but not {'merges.txt' if half[0] == 'vocab.json' else 'vocab.json'})" if half else ""
    raise InputError(
        f"{p}: folder has the model weights but no tokenizer files{got}; expected tokenizer.json, "
        "vocab.json + merges.txt, tokenizer.model, spiece.model or vocab.txt (without them "
        f"transformers builds an empty tokenizer and every caption encodes the same); {_NO_TOKENIZER_FIX}"
    )


def _check_tokenizer_vocab(tokenizer: Any, src: str) -> None:
    """Refuse a tokenizer whose vocabulary holds nothing but special tokens."""
    try:
        vocab = tokenizer.get_vocab()
        special = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    except (AttributeError, NotImplementedError, TypeError):
        return  # not a transformers tokenizer: nothing to inspect
    words = sum(1 for w in vocab if w not in special)
    if words < 2:
        raise InputError(
            f"{src}: the tokenizer is empty ({len(vocab)} tokens in its vocabulary, "
            f"{words} of them not special), so every caption would encode the same; the model's "
            f"tokenizer files are probably missing: {_NO_TOKENIZER_FIX}"
        )


def _from_pretrained(auto: Any, src: str, cache_dir: Any, what: str, obj: str) -> Any:
    """``auto.from_pretrained(src)`` offline, or an InputError saying how to save the missing part."""
    try:
        return auto.from_pretrained(src, local_files_only=True, cache_dir=cache_dir)
    except (OSError, ValueError, TypeError) as e:
        raise InputError(
            f"{src}: no usable {what} ({type(e).__name__}); save it beside the weights with "
            f"{obj}.save_pretrained(DIR)"
        ) from None


class HFCLIPEncoder:
    """Hugging Face ``CLIPModel`` / ``SiglipModel`` from local files, as an encoder.

    Parameters
    ----------
    path_or_name : path or str
        A folder written by ``save_pretrained`` (model + tokenizer + image processor), or a
        model id already in the local Hugging Face cache. Never downloads.
    device : str, optional
        ``"cpu"`` (default), ``"cuda"``, ...; ``None`` picks cuda when available.
    fp16 : bool, optional
        Half precision weights; default: on for GPU, off for CPU (not allowed on CPU).
    max_length : int, optional
        Token limit of the text tower (default: the model's ``max_position_embeddings``).
    cache_dir : path, optional
        Hugging Face cache to look model ids up in (default: ``$HF_HUB_CACHE``, usually
        ``~/.cache/huggingface/hub``).

    Notes
    -----
    transformers 5 returns an output object from ``get_image_features``/``get_text_features``;
    the projected embedding is its ``pooler_output`` (older versions return the tensor; both
    work). SigLIP is run with ``padding="max_length"`` as it was trained.
    """

    def __init__(
        self,
        path_or_name: str | os.PathLike[str],
        *,
        device: str | None = "cpu",
        fp16: bool | None = None,
        max_length: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import torch

        try:
            from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer
        except ImportError:
            raise InputError("Hugging Face models need transformers: pip install 'gaplab[hf]'") from None
        self._torch = torch
        self.device = resolve_device(device)
        self.fp16 = _resolve_fp16(fp16, self.device)
        src = str(path_or_name)
        p = Path(src).expanduser()
        if p.is_dir():
            cfg = _check_hf_folder(p)
            src = str(p)
            kind = cfg.get("model_type")
        else:
            try:
                kind = AutoConfig.from_pretrained(src, local_files_only=True, cache_dir=cache_dir).model_type
            except (OSError, ValueError):
                raise InputError(
                    f"unknown model {src!r}: not a folder and not in the local Hugging Face cache; "
                    + _HOW_TO_LOCAL.format(name=src)
                ) from None
        if kind not in HF_KINDS:
            raise InputError(
                f"{src}: model_type {kind!r} is not supported; gaplab embeds with {', '.join(HF_KINDS)} "
                "models (wrap anything else in gaplab.models.adapters.CallableEncoder)"
            )
        if p.is_dir():  # before loading the weights: fail fast
            _check_tokenizer_files(p)
        self.kind = kind
        self.name = p.name if p.is_dir() else src
        from .text import quiet_transformers

        dtype = torch.float16 if self.fp16 else torch.float32
        try:
            with quiet_transformers():
                self.model = AutoModel.from_pretrained(src, local_files_only=True, dtype=dtype, cache_dir=cache_dir)
        except OSError as e:
            raise InputError(f"{src}: cannot load the model offline ({str(e).splitlines()[0]})") from None
        self.model.to(self.device).eval()
        self.tokenizer = _from_pretrained(AutoTokenizer, src, cache_dir, "tokenizer", "tokenizer")
        _check_tokenizer_vocab(self.tokenizer, src)
        with quiet_transformers(errors_only=True):
            self.image_processor = _from_pretrained(AutoImageProcessor, src, cache_dir, "image processor", "processor")
        self._finish(max_length)

    def _finish(self, max_length: int | None) -> None:
        text_cfg = getattr(self.model.config, "text_config", None)
        self.max_length = int(max_length) if max_length else int(getattr(text_cfg, "max_position_embeddings", 77))
        self.embed_dim = int(getattr(self.model.config, "projection_dim", 0) or getattr(text_cfg, "hidden_size", 0))

    @classmethod
    def from_components(
        cls,
        model: Any,
        tokenizer: Any,
        image_processor: Any,
        *,
        name: str | None = None,
        device: str | None = "cpu",
        fp16: bool | None = None,
        max_length: int | None = None,
    ) -> HFCLIPEncoder:
        """Wrap a CLIP/SigLIP model already in memory (with its tokenizer and image processor)."""
        import torch

        kind = getattr(model.config, "model_type", None)
        if kind not in HF_KINDS:
            raise InputError(f"HFCLIPEncoder: model_type {kind!r} is not supported; use {', '.join(HF_KINDS)}")
        self = cls.__new__(cls)
        self._torch = torch
        self.device = resolve_device(device)
        self.fp16 = _resolve_fp16(fp16, self.device)
        _check_tokenizer_vocab(tokenizer, name or kind)
        self.kind, self.name = kind, name or kind
        self.model = model.to(self.device, torch.float16 if self.fp16 else torch.float32).eval()
        self.tokenizer, self.image_processor = tokenizer, image_processor
        self._finish(max_length)
        return self

    def encode_image(self, batch: Any) -> np.ndarray:
        """Image features (``get_image_features``) of ``batch`` as float32, shape ``(B, d)``.

        Images are converted to RGB PIL images and preprocessed by the model's image processor.
        """
        torch = self._torch
        images = to_pil_images(batch, mode="RGB")
        inputs = self.image_processor(images=images, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.model.dtype)
        with torch.no_grad():
            out = self.model.get_image_features(pixel_values=pixels)
        return _as_float32(out, len(images), f"{self.name}.encode_image")

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Text features (``get_text_features``) of ``texts`` as float32, shape ``(B, d)``.

        Captions are truncated to ``max_length`` tokens (SigLIP pads every caption to it).
        """
        torch = self._torch
        texts = check_texts(texts, f"{self.name}.encode_text")
        padding = "max_length" if self.kind == "siglip" else True
        tok = self.tokenizer(
            texts, padding=padding, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        kwargs = {"input_ids": tok["input_ids"].to(self.device)}
        if self.kind == "clip" and "attention_mask" in tok:
            kwargs["attention_mask"] = tok["attention_mask"].to(self.device)
        with torch.no_grad():
            out = self.model.get_text_features(**kwargs)
        return _as_float32(out, len(texts), f"{self.name}.encode_text")


class SentenceTransformerEncoder:
    """A sentence-transformers text encoder (e.g. the offline MiniLM) as the text half of an encoder.

    ``encode_image`` raises an :class:`InputError` explaining that it has no image tower.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, device: str | None = "cpu", name: str | None = None) -> None:
        from .text import load_sentence_transformer, minilm_path

        p = Path(path) if path is not None else minilm_path()
        self.device = resolve_device(device)
        self.model = load_sentence_transformer(p, device=str(self.device))
        self.name = name or p.name

    def encode_image(self, batch: Any) -> np.ndarray:
        """Always raises :class:`InputError`: a sentence-transformers model has no image tower."""
        raise InputError(
            f"{self.name} is a text encoder with no image tower; pair it with an image encoder "
            "(CallableEncoder) or use a two-tower model"
        )

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings of ``texts`` (``model.encode``) as float32, shape ``(B, d)``."""
        texts = check_texts(texts, f"{self.name}.encode_text")
        out = self.model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        return _as_float32(out, len(texts), f"{self.name}.encode_text")


def create_encoder(
    model: Any,
    *,
    device: str | None = "cpu",
    fp16: bool | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Encoder:
    """An encoder from a ``--model`` value.

    Parameters
    ----------
    model : str, path or object
        A built-in name (``gaplab-minilm-digits``, ... see
        :func:`gaplab.models.builtin.list_builtin_models`); ``minilm`` (text only); a local
        folder holding a CLIP/SigLIP (``config.json`` + weights + tokenizer + image processor)
        or a sentence-transformers model; a model id in the local Hugging Face cache; or an
        object that already has ``encode_image``/``encode_text`` (a module is wrapped in
        :class:`TorchEncoder`).
    device, fp16
        See :class:`HFCLIPEncoder`.
    checkpoint : path, optional
        Weights for a built-in model (a trainer checkpoint or a ``state_dict`` file).
    cache_dir : path, optional
        Hugging Face cache for model ids (see :class:`HFCLIPEncoder`).

    Raises
    ------
    InputError
        Unknown name, a folder without weights, a file where a folder was expected; one line
        saying how to point at local weights.
    """
    if not isinstance(model, (str, os.PathLike)):
        if hasattr(model, "encode_image") and hasattr(model, "encode_text"):
            if hasattr(model, "parameters") and hasattr(model, "eval"):
                return TorchEncoder(model, device=device, fp16=fp16)
            return model
        raise InputError(f"create_encoder: need a name, a folder or an object with encode_image/encode_text, got {type(model).__name__}")
    from .builtin import BUILTIN_MODELS, create_builtin_model

    name = str(model)
    if name in BUILTIN_MODELS:
        module = create_builtin_model(name, checkpoint=checkpoint)
        return TorchEncoder(module, name=name, device=device, fp16=fp16)
    if checkpoint is not None:
        raise InputError(
            f"--checkpoint goes with a built-in model ({', '.join(BUILTIN_MODELS.list())}), not {name!r}"
        )
    if name == "minilm":
        return SentenceTransformerEncoder(device=device, name="minilm")
    p = Path(name).expanduser()
    if p.is_file():
        raise InputError(
            f"{p}: is a file; --model takes a built-in name or a folder with config.json and weights "
            f"(for a gaplab training checkpoint use --model gaplab-minilm-digits --checkpoint {p})"
        )
    if p.is_dir():
        if (p / "modules.json").is_file():
            if (p / "config.json").is_file():
                _check_hf_folder(p)
            return SentenceTransformerEncoder(p, device=device)
        return HFCLIPEncoder(p, device=device, fp16=fp16)
    # "org/name" may be a Hugging Face id; anything else with a separator is a path
    looks_like_path = (
        name.startswith((".", "~", "/", "\\"))
        or name.count("/") > 1
        or "\\" in name
        or name.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt"))
    )
    if looks_like_path:
        raise InputError(f"{name}: no such model folder or file")
    try:
        return HFCLIPEncoder(name, device=device, fp16=fp16, cache_dir=cache_dir)
    except InputError as e:
        if str(e).startswith("unknown model"):
            raise InputError(
                f"unknown model {name!r}: not a built-in ({', '.join(BUILTIN_MODELS.list())}), "
                "not a local folder, not in the Hugging Face cache; " + _HOW_TO_LOCAL.format(name=name)
            ) from None
        raise


def embed_dataset(
    encoder: Encoder,
    dataset: PairedDataset,
    *,
    batch_size: int = 64,
    progress: bool | None = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode every image and caption of ``dataset`` in batches of ``batch_size``.

    Returns float32 ``(image_emb, text_emb)`` of shapes ``(n_images, d)`` and
    ``(n_captions, d)``, with ``text_emb[k]`` describing ``image_emb[dataset.image_index[k]]``.
    """
    from tqdm.auto import tqdm

    n_img, n_txt = dataset.n_images, dataset.n_captions
    if n_img == 0 or n_txt == 0:
        raise InputError(f"embed: dataset {dataset.name!r} is empty ({n_img} images, {n_txt} captions)")
    bar = tqdm(total=n_img + n_txt, unit="item", desc=f"embed {dataset.name}", disable=not progress if progress is not None else None)
    try:
        image_emb = encode_batched(encoder.encode_image, dataset.images, batch_size=batch_size, where="embed",
                                   on_batch=bar.update)
        text_emb = encode_batched(encoder.encode_text, dataset.captions, batch_size=batch_size, where="embed",
                                  on_batch=bar.update)
    finally:
        bar.close()
    if image_emb.shape[1] != text_emb.shape[1]:
        raise InputError(
            f"embed: {getattr(encoder, 'name', 'model')} gives image embeddings of width "
            f"{image_emb.shape[1]} but text embeddings of width {text_emb.shape[1]}"
        )
    return image_emb, text_emb


def embed_to_file(
    encoder: Encoder,
    dataset: PairedDataset,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 64,
    progress: bool | None = False,
    check: Callable[[np.ndarray, np.ndarray, PairedDataset], Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Encode ``dataset`` and write a pairs file that :func:`gaplab.load_pairs` reads.

    The ``.npz`` holds ``image``, ``text``, ``image_index`` (only when an image has several
    captions), ``ids``, ``captions``, ``model``, ``dataset``, ``split`` and, with classes,
    ``labels`` and ``class_names``. Written atomically once everything is encoded. Returns a
    summary (counts, dimension, seconds, pairs per second, and ``warnings``: what ``check``,
    called as ``check(image_emb, text_emb, dataset)`` before writing, returned; e.g.
    :func:`gaplab.metrics.functional.diagnostics.collapse_warnings` for a collapsed modality).
    """
    import time

    from ..io import save_pairs

    p = Path(out)
    if p.suffix.lower() != ".npz":
        raise InputError(f"embed: the output must be a .npz file, got {p}")
    t0 = time.perf_counter()
    image_emb, text_emb = embed_dataset(encoder, dataset, batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - t0
    found = [str(w) for w in check(image_emb, text_emb, dataset)] if check is not None else []
    n_img, n_txt = dataset.n_images, dataset.n_captions
    identity = n_txt == n_img and bool(np.all(dataset.image_index == np.arange(n_img)))
    name = str(getattr(encoder, "name", type(encoder).__name__))
    extra: dict[str, Any] = {
        "ids": np.asarray(dataset.ids).astype(str),
        "model": name,
        "dataset": dataset.name,
        "split": dataset.split,
        "captions": np.asarray(dataset.captions, dtype=str),
    }
    if dataset.labels is not None:
        extra["labels"] = np.asarray(dataset.labels)
        extra["class_names"] = np.asarray(dataset.class_names, dtype=str)
        if dataset.class_names:  # class prompt embeddings: zero-shot for measure/mitigate/report
            from ..data.zero_shot import zero_shot_classifier

            extra["class_text"] = zero_shot_classifier(
                encoder, dataset.class_names, templates=dataset.meta.get("templates"), batch_size=batch_size
            )
    save_pairs(p, image_emb, text_emb, image_index=None if identity else dataset.image_index, **extra)
    return {
        "out": str(p),
        "model": name,
        "dataset": dataset.name,
        "split": dataset.split,
        "n_images": n_img,
        "n_captions": n_txt,
        "dim": int(image_emb.shape[1]),
        "encode_seconds": round(seconds, 3),
        "pairs_per_second": round(n_txt / max(seconds, 1e-9), 1),
        "warnings": found,
    }
