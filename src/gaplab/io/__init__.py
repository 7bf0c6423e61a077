"""Readers and writers of paired embeddings: .npy, .npz, .pt, .safetensors, .parquet."""

from .readers import Pairs, load_embeddings, load_pairs, make_example_pairs, save_pairs

__all__ = ["Pairs", "load_pairs", "load_embeddings", "save_pairs", "make_example_pairs"]
