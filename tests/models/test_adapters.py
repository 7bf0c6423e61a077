"""Encoder adapters: tiny random CLIP/SigLIP saved to a folder and loaded back the way a user's
real weights are; callables; `gaplab embed` on a folder → `gaplab measure`; every bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
PIL = pytest.importorskip("PIL.Image")

from click.testing import CliRunner  # noqa: E402

from gaplab import ConfigError, InputError, load_pairs  # noqa: E402
from gaplab.cli import main  # noqa: E402
from gaplab.data import load_digits_pairs  # noqa: E402
from gaplab.models.adapters import (  # noqa: E402
    CallableEncoder,
    Encoder,
    HFCLIPEncoder,
    TorchEncoder,
    create_encoder,
    embed_dataset,
)

WORDS = ["<pad>", "<unk>", "<bos>", "<eos>", "a", "photo", "of", "the", "digit", "cat", "dog", "red", "blue",
         "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", ".", ","]


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 3)]
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def _tower_cfg(**extra):
    return dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, **extra)


def save_tiny(kind: str, folder) -> None:
    """A random-weight CLIP or SigLIP with tokenizer and image processor, as save_pretrained writes it."""
    torch.manual_seed(0)
    text = _tower_cfg(vocab_size=len(WORDS), max_position_embeddings=16, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    vision = _tower_cfg(image_size=16, patch_size=8)
    if kind == "clip":
        model = transformers.CLIPModel(transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
        proc = transformers.CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    else:
        model = transformers.SiglipModel(transformers.SiglipConfig(text_config=text, vision_config=vision))
        proc = transformers.SiglipImageProcessor(size={"height": 16, "width": 16})
    model.save_pretrained(folder)
    _tokenizer().save_pretrained(folder)
    proc.save_pretrained(folder)


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    out = {}
    for kind in ("clip", "siglip"):
        save_tiny(kind, root / f"tiny-{kind}")
        out[kind] = root / f"tiny-{kind}"
    return out


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = ["image,caption"]
    for i in range(5):
        PIL.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
        rows.append(f"p{i}.png,a photo of a {'red' if i % 2 else 'blue'} cat")
        rows.append(f"p{i},the digit {WORDS[13 + i]}")
    cap = tmp_path / "captions.csv"
    cap.write_text("\n".join(rows) + "\n")
    return folder, cap


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_tiny_hf_model_loads_offline_and_encodes(hf_dirs, kind):
    enc = create_encoder(str(hf_dirs[kind]))
    assert isinstance(enc, HFCLIPEncoder) and isinstance(enc, Encoder) and enc.kind == kind
    texts = ["a photo of a cat", "the digit seven", "a photo of a cat"]
    y = enc.encode_text(texts)
    assert y.dtype == np.float32 and y.shape[0] == 3
    np.testing.assert_allclose(y[0], y[2], atol=1e-5)
    assert np.abs(y[0] - y[1]).max() > 1e-3
    # single-text batches give the same embedding (padding does not leak in)
    np.testing.assert_allclose(enc.encode_text(["a photo of a cat"])[0], y[0], atol=1e-4)
    gray = np.random.default_rng(0).random((4, 8, 8)).astype(np.float32)
    x = enc.encode_image(gray)
    assert x.shape == (4, y.shape[1])
    # arrays, PIL images and uint8 HWC arrays of the same pixels agree
    pil = [PIL.fromarray((g * 255).round().astype(np.uint8)) for g in gray]
    np.testing.assert_allclose(enc.encode_image(pil), x, atol=1e-4)
    # the model really is the one we saved: matches transformers run by hand
    model = transformers.AutoModel.from_pretrained(hf_dirs[kind], local_files_only=True)
    tok = transformers.AutoTokenizer.from_pretrained(hf_dirs[kind], local_files_only=True)
    padding = "max_length" if kind == "siglip" else True
    ids = tok(texts[:2], padding=padding, truncation=True, max_length=16, return_tensors="pt")
    kwargs = {"input_ids": ids["input_ids"]}
    if kind == "clip":
        kwargs["attention_mask"] = ids["attention_mask"]
    with torch.no_grad():
        ref = model.get_text_features(**kwargs)
    ref = getattr(ref, "pooler_output", ref)
    np.testing.assert_allclose(y[:2], ref.numpy(), atol=1e-5)


def test_clip_pools_at_eos_not_token_zero(hf_dirs):
    enc = create_encoder(hf_dirs["clip"])
    a, b = enc.encode_text(["a cat", "a dog"])
    assert np.abs(a - b).max() > 1e-3  # same first token: differing means pooling sees the text


def test_embed_folder_then_measure(hf_dirs, image_folder, tmp_path):
    folder, cap = image_folder
    out = tmp_path / "pairs.npz"
    r = CliRunner().invoke(
        main, ["embed", "--model", str(hf_dirs["clip"]), "--images", str(folder), "--captions", str(cap),
               "--out", str(out), "--batch-size", "3", "--json"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["n_images"] == 5 and summary["n_captions"] == 10 and summary["dim"] == 16
    pairs = load_pairs(out)
    assert pairs.image.shape == (5, 16) and pairs.text.shape == (10, 16)
    assert pairs.image_index.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert pairs.meta["model"] == "tiny-clip" and list(pairs.meta["ids"]) == [f"p{i}.png" for i in range(5)]
    m = CliRunner().invoke(main, ["measure", str(out), "--json", "--fast"])
    assert m.exit_code == 0, m.output
    assert json.loads(m.stdout)["n_images"] == 5


def test_embed_dataset_with_siglip_matches_direct_calls(hf_dirs):
    ds = load_digits_pairs(split="test", limit=6, captions_per_image=2, seed=0)
    enc = create_encoder(hf_dirs["siglip"])
    x, y = embed_dataset(enc, ds, batch_size=4)
    assert x.shape == (6, 32) and y.shape == (12, 32)
    np.testing.assert_allclose(x[:2], enc.encode_image(ds.images[:2]), atol=1e-5)


def test_callable_and_torch_encoders():
    enc = CallableEncoder(lambda b: torch.ones(len(b), 3), lambda t: [[float(len(s)), 1.0, 0.0] for s in t])
    assert isinstance(enc, Encoder)
    assert enc.encode_text(["ab", "c"]).tolist() == [[2, 1, 0], [1, 1, 0]]
    with pytest.raises(InputError, match="expected one embedding row per input"):
        CallableEncoder(lambda b: np.ones((1, 3))).encode_image(np.zeros((2, 4, 4)))
    with pytest.raises(InputError, match="no text encoder was given"):
        CallableEncoder(lambda b: b).encode_text(["a"])

    class Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)

        def encode_image(self, x):
            return self.lin(x.reshape(len(x), -1)[:, :4])

        def encode_text(self, texts):
            return torch.ones(len(texts), 2, requires_grad=True)

    wrapped = create_encoder(Module())
    assert isinstance(wrapped, TorchEncoder)
    assert wrapped.encode_image(np.zeros((3, 2, 2))).shape == (3, 2)
    assert wrapped.encode_text(["a"]).dtype == np.float32


def test_unknown_model_name_says_how_to_use_local_weights():
    with pytest.raises(InputError, match=r"unknown model 'openai/clip-nope'.*not in the Hugging Face cache.*--local-dir DIR"):
        create_encoder("openai/clip-nope")
    with pytest.raises(InputError, match="no such model folder"):
        create_encoder("./no/such/dir")


def test_folder_without_weights(tmp_path, hf_dirs):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no config.json"):
        create_encoder(empty)
    cfg_only = tmp_path / "cfg"
    cfg_only.mkdir()
    (cfg_only / "config.json").write_text((hf_dirs["clip"] / "config.json").read_text())
    with pytest.raises(InputError, match="config.json but no weights"):
        create_encoder(cfg_only)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    with pytest.raises(InputError, match="is a file; --model takes"):
        create_encoder(weights)


def test_unsupported_model_type_and_fp16_on_cpu(tmp_path, hf_dirs):
    bert = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                                   intermediate_size=8, vocab_size=30)).save_pretrained(bert)
    with pytest.raises(InputError, match="model_type 'bert' is not supported"):
        create_encoder(bert)
    with pytest.raises(ConfigError, match="fp16 runs on a GPU only"):
        create_encoder(hf_dirs["clip"], fp16=True)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            create_encoder(hf_dirs["clip"], device="cuda")


def test_cli_bad_inputs_exit_2_one_line_nothing_written(tmp_path, hf_dirs, image_folder):
    folder, cap = image_folder
    out = tmp_path / "o.npz"
    runner = CliRunner()

    def run(*args):
        r = runner.invoke(main, ["embed", *args])
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("gaplab: error: ")
        assert not out.exists() and not list(tmp_path.glob("*.npz"))
        return lines[0]

    assert "unknown model 'nope-model'" in run("--model", "nope-model", "--dataset", "digits", "--out", str(out))
    (folder / "p3.png").write_bytes(b"broken")
    assert "p3.png: cannot decode image" in run("--model", str(hf_dirs["clip"]), "--images", str(folder), "--captions", str(cap), "--out", str(out))
    (folder / "p3.png").unlink()
    assert "name images that are not in" in run("--model", str(hf_dirs["clip"]), "--images", str(folder), "--captions", str(cap), "--out", str(out))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "folder has no image files" in run("--model", str(hf_dirs["clip"]), "--images", str(empty), "--captions", str(cap), "--out", str(out))
    assert "--out must be a .npz" in run("--model", str(hf_dirs["clip"]), "--dataset", "digits", "--out", str(tmp_path / "o.txt"))
    assert "give --dataset NAME" in run("--model", str(hf_dirs["clip"]), "--out", str(out))
    assert "unknown dataset 'digitz'" in run("--model", str(hf_dirs["clip"]), "--dataset", "digitz", "--out", str(out))
    assert "--data-path does not apply to dataset 'digits'" in run(
        "--model", str(hf_dirs["clip"]), "--dataset", "digits", "--data-path", str(tmp_path), "--out", str(out)
    )
    assert "only apply to --dataset" in run(
        "--model", str(hf_dirs["clip"]), "--images", str(folder), "--captions", str(cap), "--limit", "3", "--out", str(out)
    )


def test_cli_embed_dataset_with_tiny_clip_roundtrip(tmp_path, hf_dirs):
    out = tmp_path / "d.npz"
    r = CliRunner().invoke(
        main, ["embed", "--dataset", "digits", "--split", "test", "--limit", "30", "--captions-per-image", "2",
               "--model", str(hf_dirs["clip"]), "--out", str(out), "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: 30 images, 60 captions, d=16")
    p = load_pairs(out)
    assert p.meta["labels"].shape == (30,) and p.meta["dataset"] == "digits" and p.meta["split"] == "test"
    assert p.meta["captions"].shape == (60,) and p.meta["class_names"][7] == "seven"
    m = CliRunner().invoke(main, ["measure", str(out), "--fast", "--json"])
    assert m.exit_code == 0 and json.loads(m.stdout)["n_texts"] == 60


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mad"])
def test_cli_embed_other_registered_datasets(tmp_path, hf_dirs, dataset):
    from gaplab.data import fashion_mnist_path, list_datasets

    if dataset not in list_datasets():
        pytest.skip(f"dataset {dataset} not registered")
    if dataset == "fashion-mnist" and fashion_mnist_path() is None:
        pytest.skip("dataset-fashion-mnist not installed")
    out = tmp_path / "o.npz"
    r = CliRunner().invoke(main, ["embed", "--dataset", dataset, "--split", "test", "--limit", "12",
                                  "--model", str(hf_dirs["siglip"]), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    p = load_pairs(out)
    assert p.image.shape == (12, 32) and p.meta["dataset"] == dataset


def test_embed_help_is_fast_and_loads_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from click.testing import CliRunner; from gaplab.cli import main; "
        "r = CliRunner().invoke(main, ['embed', '--help']); assert r.exit_code == 0, r.output; "
        "assert '--images' in r.output; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_id_found_in_a_local_hugging_face_cache(tmp_path, hf_dirs):
    import shutil

    repo = tmp_path / "hub" / "models--acme--tiny-clip"
    shutil.copytree(hf_dirs["clip"], repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    enc = create_encoder("acme/tiny-clip", cache_dir=tmp_path / "hub")
    assert isinstance(enc, HFCLIPEncoder) and enc.name == "acme/tiny-clip"
    ref = create_encoder(hf_dirs["clip"])
    np.testing.assert_allclose(enc.encode_text(["a red cat"]), ref.encode_text(["a red cat"]), atol=1e-6)
    with pytest.raises(InputError, match="unknown model 'acme/other'"):
        create_encoder("acme/other", cache_dir=tmp_path / "hub")


# -- a model folder without a tokenizer ------------------------------------------------------
def save_tiny_without_tokenizer(folder) -> None:
    """Weights + image processor, no tokenizer files: transformers 5 would hand back an empty
    CLIPTokenizer (vocabulary of 2) that gives every caption the same tokens."""
    torch.manual_seed(0)
    text = _tower_cfg(vocab_size=len(WORDS), max_position_embeddings=16, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    vision = _tower_cfg(image_size=16, patch_size=8)
    transformers.CLIPModel(transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    transformers.CLIPImageProcessor(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}).save_pretrained(folder)


@pytest.fixture(scope="module")
def no_tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf") / "clip-no-tokenizer"
    save_tiny_without_tokenizer(folder)
    return folder


def test_folder_without_tokenizer_files_is_refused(no_tokenizer_dir):
    with pytest.raises(InputError, match=r"clip-no-tokenizer: folder has the model weights but no tokenizer files;"
                                         r" expected tokenizer\.json, vocab\.json \+ merges\.txt.*tokenizer\.save_pretrained"):
        create_encoder(no_tokenizer_dir)


def test_half_a_bpe_tokenizer_is_named(tmp_path, no_tokenizer_dir):
    import shutil

    folder = tmp_path / "half"
    shutil.copytree(no_tokenizer_dir, folder)
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(WORDS)}))
    with pytest.raises(InputError, match=r"no tokenizer files \(it has vocab\.json but not merges\.txt\)"):
        create_encoder(folder)


def test_empty_tokenizer_from_the_cache_is_refused(tmp_path, no_tokenizer_dir):
    """A cached model id has no folder to inspect: the empty vocabulary gives it away."""
    import shutil

    repo = tmp_path / "hub" / "models--acme--no-tok"
    shutil.copytree(no_tokenizer_dir, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    with pytest.raises(InputError, match=r"acme/no-tok: the tokenizer is empty \(2 tokens in its vocabulary, 0 of them not special\)"):
        create_encoder("acme/no-tok", cache_dir=tmp_path / "hub")
    empty = transformers.AutoTokenizer.from_pretrained(no_tokenizer_dir, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(no_tokenizer_dir, local_files_only=True)
    with pytest.raises(InputError, match=r"the tokenizer is empty"):
        HFCLIPEncoder.from_components(model, empty, None, name="mine")


def test_cli_embed_refuses_folder_without_tokenizer(tmp_path, no_tokenizer_dir, image_folder):
    folder, cap = image_folder
    out = tmp_path / "o.npz"
    r = CliRunner().invoke(main, ["embed", "--model", str(no_tokenizer_dir), "--images", str(folder),
                                  "--captions", str(cap), "--out", str(out)])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gaplab: error: ") and "no tokenizer files" in lines[0]
    assert "Traceback" not in r.output and not out.exists()


def test_embed_summary_has_no_warnings_for_a_working_model(tmp_path, hf_dirs):
    out = tmp_path / "d.npz"
    r = CliRunner().invoke(main, ["embed", "--dataset", "digits", "--split", "test", "--limit", "30",
                                  "--model", str(hf_dirs["clip"]), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"] == [] and "warning" not in r.stderr


def test_empty_tokenizer_past_the_checks_still_warns(tmp_path, no_tokenizer_dir, monkeypatch):
    """Second line of defence: if an empty tokenizer got through, `embed` says so loudly."""
    from gaplab.models import adapters

    monkeypatch.setattr(adapters, "_check_tokenizer_files", lambda p: None)
    monkeypatch.setattr(adapters, "_check_tokenizer_vocab", lambda tok, src: None)
    out = tmp_path / "d.npz"
    r = CliRunner().invoke(main, ["embed", "--dataset", "digits", "--split", "test", "--limit", "30",
                                  "--model", str(no_tokenizer_dir), "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "gaplab: warning: text embeddings are nearly all identical (" in r.stderr
    assert "the tokenizer may be empty" in r.stderr and "image embeddings" not in r.stderr
