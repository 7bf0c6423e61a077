"""TwoTower interface, built-in encoders, free embeddings and their initialisations."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gaplab import ConfigError  # noqa: E402
from gaplab.metrics import l2m  # noqa: E402
from gaplab.models import INITS, FreeEmbeddings, MLPEncoder, SmallCNN, TwoTower, sphere_init  # noqa: E402


@pytest.mark.parametrize("projection", ["linear", "mlp", "none"])
def test_two_tower_interface(projection):
    m = TwoTower(MLPEncoder(8, 16), MLPEncoder(5, 16), image_dim=16, text_dim=16,
                 embed_dim=16 if projection == "none" else 4, projection=projection)
    x, y = m(torch.randn(3, 8), torch.randn(3, 5))
    d = 16 if projection == "none" else 4
    assert x.shape == (3, d) and y.shape == (3, d)
    assert torch.equal(m.encode_image(torch.ones(2, 8)), m(torch.ones(2, 8), torch.ones(2, 5))[0])
    assert not torch.allclose(x.norm(dim=1), torch.ones(3))  # not normalised


def test_two_tower_bad_projection():
    with pytest.raises(ConfigError, match="unknown projection 'conv'; valid: linear, mlp, none"):
        TwoTower(MLPEncoder(8, 16), MLPEncoder(5, 16), image_dim=16, text_dim=16, projection="conv")
    with pytest.raises(ConfigError, match="projection='none' needs encoder dim == embed_dim, got 16 and 4"):
        TwoTower(MLPEncoder(8, 16), MLPEncoder(5, 16), image_dim=16, text_dim=16, embed_dim=4,
                 projection="none")
    with pytest.raises(ConfigError, match="unknown activation 'swish'"):
        MLPEncoder(3, 3, activation="swish")


def test_cnn_shapes():
    assert SmallCNN(1, 7)(torch.zeros(2, 1, 8, 8)).shape == (2, 7)
    assert SmallCNN(3, 7, channels=(4,))(torch.zeros(2, 3, 28, 28)).shape == (2, 7)


@pytest.mark.parametrize("init", INITS)
def test_sphere_inits(init):
    x, y = sphere_init(500, 3, init, seed=0)
    assert x.shape == y.shape == (500, 3)
    assert np.allclose(np.linalg.norm(x, axis=1), 1) and np.allclose(np.linalg.norm(y, axis=1), 1)
    gap = l2m(x, y)
    expected = {"polar": (1.7, 2.0), "nearby": (0.5, 1.3), "overlapped": (0, 0.15),
                "random": (0, 0.2), "gap_amended": (0, 0.15)}[init]
    assert expected[0] <= gap <= expected[1], (init, gap)
    x2, _ = sphere_init(500, 3, init, seed=0)
    assert np.array_equal(x, x2)


def test_caps_are_disjoint_for_polar_and_nearby():
    for init in ("polar", "nearby"):
        x, y = sphere_init(300, 3, init, seed=1, spread=math.pi / 6)
        assert (x @ y.T).max() < math.cos(0.05)  # no text inside the image cap's border


def test_free_embeddings():
    m = FreeEmbeddings(10, 4, init="random", seed=3, dtype=torch.float64)
    a, b = m(torch.tensor([0, 1]), torch.tensor([2, 3]))
    assert torch.equal(a, m.x[:2]) and torch.equal(b, m.y[2:4])
    x, y = m.embeddings()
    assert torch.allclose(x.norm(dim=1), torch.ones(10, dtype=torch.float64))
    g = FreeEmbeddings(x0=np.ones((3, 2)), y0=np.zeros((3, 2)) + 2)
    assert g.n_pairs == 3 and g.dim == 2 and g.init == "given"
    with pytest.raises(ConfigError, match="give both x0 and y0"):
        FreeEmbeddings(x0=np.ones((3, 2)))
    with pytest.raises(ConfigError, match="unknown init 'north'; valid: polar, nearby"):
        FreeEmbeddings(10, 3, init="north")
