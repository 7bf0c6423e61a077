"""Two-tower contrastive models: :class:`TwoTower` over any two encoders, plus small built-in encoders.

>>> import torch
>>> model = TwoTower(MLPEncoder(8, 16), MLPEncoder(5, 16), image_dim=16, text_dim=16, embed_dim=4)
>>> x, y = model(torch.randn(3, 8), torch.randn(3, 5))
>>> tuple(x.shape), tuple(y.shape)
((3, 4), (3, 4))

Embeddings come out *unnormalised*; the losses of :mod:`gaplab.train.losses` normalise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .._errors import ConfigError

__all__ = ["TwoTower", "MLPEncoder", "SmallCNN", "create_projection", "PROJECTIONS", "ACTIVATIONS"]

#: valid values of ``TwoTower(projection=...)``
PROJECTIONS = ("linear", "mlp", "none")

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
}


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}") from None


def create_projection(kind: str, in_dim: int, out_dim: int) -> nn.Module:
    """Projection head: ``linear`` (no bias, as CLIP), ``mlp`` (Linear-GELU-Linear) or ``none``."""
    if kind == "linear":
        return nn.Linear(in_dim, out_dim, bias=False)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, in_dim), nn.GELU(), nn.Linear(in_dim, out_dim))
    if kind == "none":
        if in_dim != out_dim:
            raise ConfigError(
                f"projection='none' needs encoder dim == embed_dim, got {in_dim} and {out_dim}"
            )
        return nn.Identity()
    raise ConfigError(f"unknown projection {kind!r}; valid: {', '.join(PROJECTIONS)}")


class TwoTower(nn.Module):
    """Two encoders, each followed by a projection head into a shared ``embed_dim`` space.

    Parameters
    ----------
    image_encoder, text_encoder : nn.Module
        Any modules; ``text_encoder`` may take a token tensor or a ``list[str]``.
    image_dim, text_dim : int
        Output widths of the two encoders.
    embed_dim : int
        Width of the joint space.
    projection : {"linear", "mlp", "none"}
        Head applied after each encoder.

    Notes
    -----
    ``encode_image`` / ``encode_text`` return (B, embed_dim) *unnormalised* embeddings;
    ``forward(images, texts)`` returns both.
    """

    # set only on built-in models (gaplab.models.builtin): what rebuilds them, and their name
    gaplab_config: dict[str, Any]
    gaplab_name: str

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        *,
        image_dim: int,
        text_dim: int,
        embed_dim: int = 128,
        projection: str = "linear",
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.image_dim, self.text_dim, self.embed_dim = int(image_dim), int(text_dim), int(embed_dim)
        self.projection = projection
        self.image_projection = create_projection(projection, self.image_dim, self.embed_dim)
        self.text_projection = create_projection(projection, self.text_dim, self.embed_dim)

    def encode_image(self, images: Any) -> Tensor:
        """Image embeddings ``(B, embed_dim)``, unnormalised: the image encoder, then its projection."""
        return self.image_projection(self.image_encoder(images))

    def encode_text(self, texts: Any) -> Tensor:
        """Text embeddings ``(B, embed_dim)``, unnormalised: the text encoder, then its projection."""
        return self.text_projection(self.text_encoder(texts))

    def forward(self, images: Any, texts: Any) -> tuple[Tensor, Tensor]:
        """Both embeddings, ``(encode_image(images), encode_text(texts))``, each ``(B, embed_dim)``."""
        return self.encode_image(images), self.encode_text(texts)


class MLPEncoder(nn.Module):
    """A plain MLP: ``in_dim → hidden … → out_dim`` (``depth`` linear layers, activation between).

    >>> MLPEncoder(4, 3, hidden=8, depth=3)(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self, in_dim: int, out_dim: int, *, hidden: int | Sequence[int] = 128, depth: int = 2,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ConfigError(f"MLPEncoder: depth must be >= 1, got {depth}")
        widths = list(hidden) if isinstance(hidden, Sequence) else [int(hidden)] * (depth - 1)
        dims = [int(in_dim), *widths, int(out_dim)]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers.append(_activation(activation))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """Outputs ``(B, out_dim)`` of inputs ``(B, in_dim)``; inputs of more dimensions are flattened per row."""
        return self.net(x.reshape(x.shape[0], -1) if x.ndim > 2 else x)


class SmallCNN(nn.Module):
    """A small conv net for tiny images (8×8 digits, 28×28 Fashion-MNIST).

    Conv-activation-maxpool blocks, global average pooling, then a linear layer to ``out_dim``.

    Input (B, C, H, W), or (B, H, W) for one channel.

    >>> SmallCNN(1, 10)(torch.zeros(2, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, out_dim: int = 128, *, channels: Sequence[int] = (16, 32),
                 activation: str = "relu") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = int(in_channels)
        for k in channels:
            layers += [nn.Conv2d(c, int(k), 3, padding=1), _activation(activation), nn.MaxPool2d(2, ceil_mode=True)]
            c = int(k)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, int(out_dim))
        self.in_channels, self.out_dim = int(in_channels), int(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """Features ``(B, out_dim)`` of images ``(B, C, H, W)``, or ``(B, H, W)`` for one channel."""
        if x.ndim == 3:
            x = x.unsqueeze(1)
        h = self.features(x)
        return self.head(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1))
