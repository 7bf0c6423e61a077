"""Tiny random-weight CLIP models and paired datasets for the integration tests (nothing downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

VOCAB, EOS, LENGTH = 12, 3, 6


def tiny_clip():
    """A random CLIPModel: 16×16 images, 2-layer towers, 8-d projection."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    tower = dict(hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2)
    text = dict(tower, vocab_size=VOCAB, max_position_embeddings=LENGTH, bos_token_id=2, eos_token_id=EOS,
                pad_token_id=0)
    vision = dict(tower, image_size=16, patch_size=8)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=8)
    return transformers.CLIPModel(config)


def pairs(n: int, seed: int) -> list[dict]:
    """n examples {pixel_values (3,16,16), input_ids (LENGTH,), attention_mask}, EOS last."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(4, VOCAB, (LENGTH,), generator=g)
        ids[0], ids[-1] = 2, EOS
        out.append({"pixel_values": torch.randn(3, 16, 16, generator=g), "input_ids": ids,
                    "attention_mask": torch.ones(LENGTH, dtype=torch.long)})
    return out


def collate(examples: list[dict]) -> dict:
    """Stack the fields; return_loss goes here (the default collator would make it a tensor)."""
    batch = {k: torch.stack([e[k] for e in examples]) for k in examples[0]}
    batch["return_loss"] = True
    return batch
