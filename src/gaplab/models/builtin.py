"""The built-in two-tower model: frozen MiniLM text tower + trainable projection, small CNN image tower.

Registered names (usable as ``gaplab embed --model NAME``):

==========================  =========================  ===========================
name                        image input                meant for
==========================  =========================  ===========================
``gaplab-minilm-digits``    1 × 8 × 8                  sklearn digits
``gaplab-minilm-fashion``   1 × 28 × 28                Fashion-MNIST
``gaplab-minilm-rgb``       3 × 32 × 32                MAD, a user's colour images
``gaplab-clip-fashion``     1 × 28 × 28                Fashion-MNIST; a CLIP trained
                                                       from scratch (:mod:`.clip`)
==========================  =========================  ===========================

Fresh models have random image tower and projections (seeded), which is enough to embed and
measure; ``checkpoint=`` loads trained weights (a ``state_dict`` or a trainer checkpoint
holding one). The MiniLM backbone is frozen and not in ``state_dict()``, so checkpoints
hold only what trains.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import InputError
from .._fs import atomic_write
from .._registry import Registry
from ..data.images import to_float_array
from .text import MiniLMTextEncoder
from .towers import SmallCNN, TwoTower

__all__ = [
    "ImageTower",
    "create_minilm_two_tower",
    "load_weights",
    "BUILTIN_MODELS",
    "register_builtin_model",
    "list_builtin_models",
    "create_builtin_model",
    "save_builtin_model",
]

#: name → factory(**kwargs) -> TwoTower
BUILTIN_MODELS: Registry[Callable[..., TwoTower]] = Registry("built-in model")


def register_builtin_model(name: str, **defaults: Any) -> Callable[[Callable[..., TwoTower]], Callable[..., TwoTower]]:
    """Decorator registering a model factory as ``name``, with ``defaults`` bound (like ``register_recipe``).

    The factory itself is returned unchanged, so one function can serve several names.
    """

    def deco(fn: Callable[..., TwoTower]) -> Callable[..., TwoTower]:
        BUILTIN_MODELS.register(name)(partial(fn, **defaults) if defaults else fn)
        return fn

    return deco


class ImageTower(nn.Module):
    """A :class:`~gaplab.models.SmallCNN` that also takes what users hand over.

    Accepts a tensor (B, H, W) or (B, C, H, W), a numpy array, or a list of image files / PIL
    images; non-tensors are converted to float (B, C, H, W) in [0, 1] at ``image_size``. A
    tensor of another size is resized bilinearly; one channel is repeated to three and three
    are averaged to one as needed.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_dim: int = 128,
        *,
        image_size: Sequence[int] | None = (8, 8),
        channels: Sequence[int] = (32, 64),
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.out_dim = int(out_dim)
        self.cnn = SmallCNN(self.in_channels, self.out_dim, channels=tuple(channels))

    def _anchor(self) -> Tensor:
        return next(self.parameters())

    def prepare(self, images: Any) -> Tensor:
        """Images as a float (B, C, H, W) tensor on this module's device and dtype."""
        anchor = self._anchor()
        if not isinstance(images, Tensor):
            arr = to_float_array(images, size=self.image_size, channels=self.in_channels)
            return torch.from_numpy(arr).to(anchor.device, anchor.dtype)
        x = images.to(anchor.device, anchor.dtype)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4:
            raise InputError(f"ImageTower: images must be (B, H, W) or (B, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            if x.shape[1] == 1:
                x = x.expand(-1, self.in_channels, -1, -1)
            elif self.in_channels == 1:
                x = x[:, :3].mean(dim=1, keepdim=True)
            else:
                raise InputError(f"ImageTower: expected {self.in_channels} channels, got {x.shape[1]}")
        if self.image_size is not None and tuple(x.shape[-2:]) != self.image_size:
            x = nn.functional.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        return x

    def forward(self, images: Any) -> Tensor:
        """Image embeddings of shape ``(B, out_dim)``: the CNN applied to :meth:`prepare` (images)."""
        return self.cnn(self.prepare(images))


def _state_dict_of(obj: Any, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict", "model_state"):
            if isinstance(obj.get(key), dict):
                return obj[key]
        if obj and all(isinstance(v, Tensor) for v in obj.values()):
            return obj
    raise InputError(
        f"{path}: not a state_dict or a checkpoint holding one under 'model'/'state_dict' "
        f"(top-level keys: {', '.join(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__})"
    )


def load_weights(model: nn.Module, checkpoint: str | os.PathLike[str]) -> nn.Module:
    """Load ``checkpoint`` into ``model`` strictly and return ``model``.

    ``checkpoint`` is a ``.pt``/``.pth`` state_dict or trainer checkpoint, or a
    ``.safetensors`` file; on a mismatch the :class:`InputError` names the first
    missing/unexpected keys.
    """
    p = Path(checkpoint)
    if not p.is_file():
        raise InputError(f"{p}: no such checkpoint file")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(p))
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"{p}: cannot read checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    state = _state_dict_of(obj, p)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        detail = next((ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln), str(e).splitlines()[0])
        raise InputError(f"{p}: weights do not fit this model: {detail} (built with other settings?)") from None
    if result.missing_keys or result.unexpected_keys:
        raise InputError(
            f"{p}: weights do not fit this model: missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]} (built with other settings?)"
        )
    return model


@register_builtin_model("gaplab-minilm-rgb", in_channels=3, image_size=(32, 32))
@register_builtin_model("gaplab-minilm-fashion", in_channels=1, image_size=(28, 28))
@register_builtin_model("gaplab-minilm-digits", in_channels=1, image_size=(8, 8))
def create_minilm_two_tower(
    *,
    in_channels: int = 1,
    image_size: Sequence[int] | None = (8, 8),
    embed_dim: int = 128,
    image_dim: int = 128,
    channels: Sequence[int] = (32, 64),
    projection: str = "linear",
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    text_encoder: nn.Module | None = None,
) -> TwoTower:
    """The built-in two-tower: small CNN image tower, frozen MiniLM text tower, projections.

    Parameters
    ----------
    in_channels, image_size
        Image input (grey 8×8 by default); other sizes are resized.
    embed_dim : int
        Width of the joint space.
    image_dim : int
        Output width of the CNN (before its projection).
    channels : sequence of int
        Conv widths of the CNN.
    projection : {"linear", "mlp", "none"}
        Heads of :class:`~gaplab.models.TwoTower`; the text head is the trainable part of the
        text tower.
    seed : int
        Seeds the random initial weights (global torch RNG untouched).
    checkpoint : path, optional
        Trained weights to load (see :func:`load_weights`).
    text_encoder : nn.Module, optional
        Replace MiniLM (any module mapping ``list[str]`` to (B, d) with an ``output_dim``).

    Returns
    -------
    TwoTower
        ``encode_image`` / ``encode_text`` give (B, embed_dim), unnormalised. The model's
        ``gaplab_config`` attribute holds the arguments that rebuild it.

    Examples
    --------
    >>> model = create_minilm_two_tower(embed_dim=64)             # doctest: +SKIP
    >>> model.encode_text(["a handwritten seven."]).shape         # doctest: +SKIP
    torch.Size([1, 64])
    """
    text = text_encoder if text_encoder is not None else MiniLMTextEncoder()
    text_dim = int(getattr(text, "output_dim", 0) or 0)
    if text_dim < 1:
        raise InputError("create_minilm_two_tower: text_encoder needs an output_dim attribute")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        image = ImageTower(in_channels, image_dim, image_size=image_size, channels=channels)
        model = TwoTower(image, text, image_dim=image_dim, text_dim=text_dim, embed_dim=embed_dim, projection=projection)
    model.gaplab_config = {
        "in_channels": int(in_channels),
        "image_size": None if image_size is None else [int(s) for s in image_size],
        "embed_dim": int(embed_dim),
        "image_dim": int(image_dim),
        "channels": [int(c) for c in channels],
        "projection": projection,
        "seed": int(seed),
    }
    if checkpoint is not None:
        load_weights(model, checkpoint)
    return model


#: deprecated: kept while recipes call it


def list_builtin_models(filter: str | None = None) -> list[str]:
    """Names of the built-in models (wildcards allowed)."""
    return BUILTIN_MODELS.list(filter)


def save_builtin_model(model: TwoTower, path: str | os.PathLike[str]) -> Path:
    """Save a built-in model's weights with what rebuilds it (``gaplab_config``); return the path.

    ``create_builtin_model(name, checkpoint=path)`` then restores it whatever its settings.
    """
    payload = {
        "model": model.state_dict(),
        "gaplab_config": dict(getattr(model, "gaplab_config", {})),
        "gaplab_name": getattr(model, "gaplab_name", None),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _checkpoint_config(checkpoint: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``gaplab_config`` stored in a checkpoint, if any (``{}`` otherwise)."""
    p = Path(checkpoint)
    if not p.is_file() or p.suffix == ".safetensors":
        return {}
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:
        return {}  # load_weights reports the problem
    cfg = obj.get("gaplab_config") if isinstance(obj, dict) else None
    return dict(cfg) if isinstance(cfg, dict) else {}


def create_builtin_model(name: str, **kwargs: Any) -> TwoTower:
    """Build a registered model; keyword arguments left ``None`` keep the defaults.

    With ``checkpoint=`` the settings saved in it (``gaplab_config``, see
    :func:`save_builtin_model`) are used, then its weights are loaded; explicit keyword
    arguments win over saved settings.

    >>> create_builtin_model("gaplab-minilm-digit")
    Traceback (most recent call last):
    ...
    gaplab._errors.UnknownNameError: unknown built-in model 'gaplab-minilm-digit'; valid: gaplab-clip-fashion, gaplab-minilm-digits, gaplab-minilm-fashion, gaplab-minilm-rgb. Did you mean 'gaplab-minilm-digits'?
    """
    BUILTIN_MODELS.get(name)  # an unknown name fails before a checkpoint is read
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if "checkpoint" in kwargs:
        kwargs = {**_checkpoint_config(kwargs["checkpoint"]), **kwargs}
    model = BUILTIN_MODELS.create(name, **kwargs)
    model.gaplab_name = name
    return model

