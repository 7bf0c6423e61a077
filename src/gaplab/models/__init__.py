"""gaplab.models: two-tower contrastive models, small encoders and free embeddings (needs torch).

:class:`TwoTower` wraps any two encoders with projection heads; :class:`MLPEncoder` and
:class:`SmallCNN` are small built-in encoders; :class:`FreeEmbeddings` makes the points
themselves the parameters (the sphere of paper 001, the simulations of 000 and 002).
The from-scratch Fashion-MNIST CLIP (``gaplab-clip-fashion``) is registered by
:mod:`gaplab.models.clip`; it is trained by :mod:`gaplab.train.fashion_clip`.
"""

from .clip import FashionCLIPConfig, create_fashion_clip  # noqa: E402  (registers gaplab-clip-fashion)
from .free import INITS, FreeEmbeddings, sphere_init
from .towers import PROJECTIONS, MLPEncoder, SmallCNN, TwoTower, create_projection

__all__ = [
    "TwoTower", "MLPEncoder", "SmallCNN", "create_projection", "PROJECTIONS",
    "FreeEmbeddings", "sphere_init", "INITS", "create_fashion_clip", "FashionCLIPConfig",
]

