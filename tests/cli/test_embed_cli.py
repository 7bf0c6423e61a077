"""``gaplab embed`` warns loudly (stderr, and ``warnings`` in the JSON summary) when a modality
collapses — every caption encoded to the same vector — but still writes the file, and stays
quiet when rows repeat because the inputs do (templated class captions)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab.cli import main
from gaplab.io import load_pairs

pytest.importorskip("torch")


def _caption_vector(text: str, d: int = 12) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=d)


def _images(batch) -> np.ndarray:
    flat = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
    return flat[:, :12] + 0.01 * flat[:, 12:24] + 1.0


ENCODERS = {
    "working": (_images, lambda texts: np.stack([_caption_vector(t) for t in texts])),
    "empty-tokenizer": (_images, lambda texts: np.tile(_caption_vector("<bos><eos>"), (len(texts), 1))),
    "blank-images": (lambda b: np.tile(np.arange(1.0, 13.0), (len(b), 1)),
                     lambda texts: np.stack([_caption_vector(t) for t in texts])),
}


@pytest.fixture
def fake_model(monkeypatch):
    """``--model fake:KIND`` gives a CallableEncoder (no weights needed)."""
    from gaplab.models import adapters

    real = adapters.create_encoder

    def load(model, **kw):
        if isinstance(model, str) and model.startswith("fake:"):
            image_fn, text_fn = ENCODERS[model[5:]]
            return adapters.CallableEncoder(image_fn, text_fn, name=model)
        return real(model, **kw)

    monkeypatch.setattr(adapters, "create_encoder", load)


def embed(tmp_path, kind, *extra):
    out = tmp_path / f"{kind}.npz"
    r = CliRunner().invoke(main, ["embed", "--dataset", "digits", "--split", "test", "--limit", "60",
                                  "--captions-per-image", "2", "--model", f"fake:{kind}", "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    assert out.is_file()  # a warning, not a refusal
    return r, out


def test_working_encoder_no_warning_even_with_repeated_captions(tmp_path, fake_model):
    r, out = embed(tmp_path, "working", "--json")
    captions = load_pairs(out).meta["captions"]
    assert len(set(captions.tolist())) < 0.9 * captions.size  # templated: repeats are legitimate
    assert json.loads(r.stdout)["warnings"] == []
    assert "warning" not in r.stderr


def test_collapsed_text_warns_on_stderr_and_in_json(tmp_path, fake_model):
    r, out = embed(tmp_path, "empty-tokenizer")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("gaplab: warning: text embeddings are nearly all identical (1 distinct of 120 rows")
    assert "the tokenizer may be empty or the captions identical" in lines[0]
    assert r.stdout.startswith("wrote ")  # stdout stays the normal summary
    r, _ = embed(tmp_path, "empty-tokenizer", "--json")
    warnings = json.loads(r.stdout)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("text embeddings are nearly all identical")


def test_collapsed_images_warn(tmp_path, fake_model):
    r, _ = embed(tmp_path, "blank-images")
    assert "gaplab: warning: image embeddings are nearly all identical (1 distinct of 60 rows" in r.stderr
    assert "text embeddings" not in r.stderr
