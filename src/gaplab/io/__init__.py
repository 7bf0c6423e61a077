"""Readers and writers of paired embeddings: .npy, .npz, .pt, .safetensors, .parquet.

One format table (:data:`FORMATS`: suffix → reader, and for pair shards a header reader and
a block streamer, :mod:`gaplab.io.blocks`) serves :func:`load_pairs` and :mod:`gaplab.scale`;
:func:`is_shard_source` says which of the two a path is for.
"""

from .readers import (
    FORMATS,
    SHARD_SUFFIXES,
    FileFormat,
    Pairs,
    is_shard_source,
    load_embeddings,
    load_pairs,
    make_example_pairs,
    save_pairs,
)

__all__ = [
    "Pairs", "load_pairs", "load_embeddings", "save_pairs", "make_example_pairs",
    "FORMATS", "FileFormat", "SHARD_SUFFIXES", "is_shard_source",
]
