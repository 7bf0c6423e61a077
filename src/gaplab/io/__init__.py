"""Readers and writers of paired embeddings: .npy, .npz, .pt, .safetensors, .parquet.

One format table (:data:`FORMATS`: suffix → reader, and for pair shards a header reader and
a block streamer, :mod:`gaplab.io.blocks`) serves :func:`load_pairs` and :mod:`gaplab.scale`;
:func:`is_shard_source` says which of the two a path is for. :func:`load_metadata` reads the
captions, urls and keys a clip-retrieval dump keeps beside its embeddings. Exports for other
tools (:mod:`gaplab.io.export`): :func:`clip_benchmark_json` (CLIP_benchmark's retrieval
JSON) and :func:`export_viewer` (a 2-D parquet for embedding viewers).
"""

from .export import VIEWER_COLUMNS, clip_benchmark_json, export_viewer, viewer_table
from .readers import (
    FORMATS,
    METADATA_COLUMNS,
    SHARD_SUFFIXES,
    FileFormat,
    Metadata,
    Pairs,
    is_shard_source,
    load_embeddings,
    load_metadata,
    load_pairs,
    make_example_pairs,
    read_metadata_file,
    save_pairs,
)

__all__ = [
    "Pairs", "load_pairs", "load_embeddings", "save_pairs", "make_example_pairs",
    "FORMATS", "FileFormat", "SHARD_SUFFIXES", "is_shard_source",
    "Metadata", "METADATA_COLUMNS", "load_metadata", "read_metadata_file",
    "clip_benchmark_json", "viewer_table", "export_viewer", "VIEWER_COLUMNS",
]
