"""Writers of small generated shard directories, one per layout (shared by the scale tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZES = (120, 97, 150, 64, 33)  # uneven shard sizes on purpose
DIM = 8


def make_pairs(seed: int = 0, sizes=SIZES, dim: int = DIM, dtype=np.float16):
    """One (image, text) array pair per shard, with a modality gap."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim)
    out = []
    for n in sizes:
        z = rng.normal(size=(n, dim))
        x = (z + centre + 0.3 * rng.normal(size=(n, dim))).astype(dtype)
        y = (z - centre + 0.3 * rng.normal(size=(n, dim))).astype(dtype)
        out.append((x, y))
    return out


def write_clip(root: Path, pairs, *, metadata: bool = False) -> Path:
    """A clip-retrieval layout: img_emb/img_emb_k.npy, text_emb/text_emb_k.npy."""
    (root / "img_emb").mkdir(parents=True)
    (root / "text_emb").mkdir()
    for k, (x, y) in enumerate(pairs):
        np.save(root / "img_emb" / f"img_emb_{k}.npy", x)
        np.save(root / "text_emb" / f"text_emb_{k}.npy", y)
    if metadata:
        import pyarrow as pa
        import pyarrow.parquet as pq

        (root / "metadata").mkdir()
        for k, (x, _) in enumerate(pairs):
            pq.write_table(pa.table({"caption": [f"c{i}" for i in range(len(x))]}),
                           root / "metadata" / f"metadata_{k}.parquet")
    return root


def write_npz(root: Path, pairs, *, compressed: bool = False) -> Path:
    root.mkdir(parents=True)
    save = np.savez_compressed if compressed else np.savez
    for k, (x, y) in enumerate(pairs):
        save(root / f"part-{k:03d}.npz", image=x, text=y)
    return root


def write_parquet(root: Path, pairs, *, fixed: bool = False) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True)
    for k, (x, y) in enumerate(pairs):
        cols = {}
        for name, a in (("image", x), ("text", y)):
            flat = pa.array(a.astype(np.float32).ravel())
            cols[name] = (pa.FixedSizeListArray.from_arrays(flat, a.shape[1]) if fixed
                          else pa.ListArray.from_arrays(pa.array(np.arange(0, a.size + 1, a.shape[1], dtype=np.int32)), flat))
        pq.write_table(pa.table(cols), root / f"shard_{k}.parquet", row_group_size=50)
    return root


def write_npy_pairs(root: Path, pairs) -> Path:
    root.mkdir(parents=True)
    for k, (x, y) in enumerate(pairs):
        np.save(root / f"pairs_{k}.npy", np.stack([x, y]))
    return root
