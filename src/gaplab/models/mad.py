"""Small CLIP towers for MAD (Schrodi et al., ICLR 2025, Appendix C, "Model details").

The paper trains a ViT image tower (6 layers, width 256, 4 heads, patch 7) and a
transformer text tower (6 layers, width 256, 8 heads, context 8, 28-word vocabulary) from
scratch. On two CPU cores that is far too slow for recipes that train 5–6 models, so the
defaults here are scaled down: **2 layers, width 64, 4 heads** in both towers, embedding
dimension 32, same patch size (7) and context length (8). Every size is a constructor
argument, so ``MADImageEncoder(width=256, layers=6, heads=4)`` and
``MADTextEncoder(width=256, layers=6, heads=8)`` give the paper's towers. The towers are
joined by the engine's :class:`~gaplab.models.towers.TwoTower` (linear projections, no bias,
as CLIP) and trained with :class:`gaplab.train.Trainer`.

``image_encoder="cnn"`` swaps the ViT for a 3-block conv net (faster to train on CPU;
the recipes' default, see their docstrings).

Examples
--------
>>> import torch
>>> model = create_mad_clip(image_size=28, embed_dim=16)
>>> img, txt = model(torch.zeros(2, 3, 28, 28), torch.tensor([[0, 2, 1, 1, 1, 1, 1, 1]] * 2))
>>> tuple(img.shape), tuple(txt.shape)
((2, 16), (2, 16))
"""

from __future__ import annotations

import torch
from torch import nn

from .._errors import ConfigError
from ..data.mad import VOCAB, MADTokenizer
from .towers import TwoTower

__all__ = ["MADTextEncoder", "MADImageEncoder", "MADConvEncoder", "create_mad_clip"]


def _blocks(width: int, layers: int, heads: int) -> nn.TransformerEncoder:
    if width % heads:
        raise ConfigError(f"MAD encoder: width {width} must be divisible by heads {heads}")
    layer = nn.TransformerEncoderLayer(
        width, heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu",
        batch_first=True, norm_first=True,
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class MADTextEncoder(nn.Module):
    """CLIP-style causal transformer over MAD token ids, pooled at the first ``<end>`` token.

    Returns a ``(width,)`` feature per caption; the projection lives in
    :class:`~gaplab.models.towers.TwoTower`.
    """

    causal_mask: torch.Tensor  # a buffer (register_buffer below)

    def __init__(
        self, *, width: int = 64, layers: int = 2, heads: int = 4, vocab_size: int = len(VOCAB),
        context_length: int = 8,
    ) -> None:
        super().__init__()
        self.end_id = MADTokenizer.end_id
        self.out_dim = width
        self.token = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.randn(context_length, width) * 0.01)
        self.blocks = _blocks(width, layers, heads)
        self.ln = nn.LayerNorm(width)
        mask = torch.triu(torch.full((context_length, context_length), float("-inf")), 1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Features of token ids ``(B, L)`` (L ≤ context length): shape ``(B, width)``.

        Each row is the final layer-normed state at its first ``<end>`` token (position 0
        when a row has none).
        """
        n_ctx = ids.shape[1]
        h = self.token(ids) + self.pos[:n_ctx]
        h = self.blocks(h, mask=self.causal_mask[:n_ctx, :n_ctx])
        h = self.ln(h)
        pool = (ids == self.end_id).int().argmax(dim=1)  # first <end>
        return h[torch.arange(ids.shape[0]), pool]


class MADImageEncoder(nn.Module):
    """A small ViT returning the class token's ``(width,)`` feature.

    Patchify (conv, stride = patch), prepend a class token, add positions, then a pre-norm
    transformer.
    """

    def __init__(
        self, *, image_size: int = 28, patch_size: int = 7, width: int = 64, layers: int = 2,
        heads: int = 4, channels: int = 3,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ConfigError(f"MADImageEncoder: image_size {image_size} must be a multiple of patch_size {patch_size}")
        n_patches = (image_size // patch_size) ** 2
        self.out_dim = width
        self.patch = nn.Conv2d(channels, width, patch_size, stride=patch_size, bias=False)
        self.cls = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n_patches + 1, width) * 0.02)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = _blocks(width, layers, heads)
        self.ln = nn.LayerNorm(width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of images ``(B, channels, image_size, image_size)``: shape ``(B, width)``.

        The final layer-normed state of the class token.
        """
        h = self.patch(images).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1) + self.pos
        h = self.blocks(self.ln_pre(h))
        return self.ln(h[:, 0])


class MADConvEncoder(nn.Module):
    """Three conv blocks (conv–BN–ReLU, stride 2) and global average pooling → (width,) feature."""

    def __init__(self, *, width: int = 64, channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for out in (width // 2, width, width):
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            c = out
        self.features = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of images ``(B, channels, H, W)``: shape ``(B, width)``, averaged over space."""
        return self.features(images).mean(dim=(2, 3))


def create_mad_clip(
    *,
    image_size: int = 28,
    embed_dim: int = 32,
    width: int = 64,
    layers: int = 2,
    heads: int = 4,
    image_encoder: str = "vit",
    patch_size: int = 7,
) -> TwoTower:
    """The MAD CLIP model: a :class:`~gaplab.models.towers.TwoTower` with linear projections.

    ``image_encoder`` is ``"vit"`` (the paper's kind) or ``"cnn"``. The temperature is the
    trainer's (``gaplab.train.Trainer(temperature="learnable")``), as in the engine.
    Paper scale: ``create_mad_clip(width=256, layers=6, heads=4)`` (the paper's text tower
    has 8 heads; build the towers directly for that).
    """
    if image_encoder == "vit":
        img: nn.Module = MADImageEncoder(image_size=image_size, patch_size=patch_size, width=width,
                                         layers=layers, heads=heads)
    elif image_encoder == "cnn":
        img = MADConvEncoder(width=width)
    else:
        raise ConfigError(f"create_mad_clip: image_encoder must be one of vit, cnn, got {image_encoder!r}")
    txt = MADTextEncoder(width=width, layers=layers, heads=heads)
    return TwoTower(img, txt, image_dim=width, text_dim=width, embed_dim=embed_dim, projection="linear")


#: deprecated: kept while recipes call it
