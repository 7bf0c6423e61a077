"""``gaplab export-viewer``: a 2-D parquet of both modalities for embedding viewers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .._errors import InputError
from ._common import pairs_input


def _captions_from(path: Path) -> Sequence[str | None]:
    """One caption per text row from a captions file, a metadata parquet or a clip-retrieval dump."""
    if path.is_dir():
        from ..io import load_metadata

        meta = load_metadata(path, columns=("caption",))
        if "caption" not in meta.columns:
            raise InputError(f"{path}: the metadata has no 'caption' column")
        return meta.columns["caption"]
    if not path.is_file():
        raise InputError(f"{path}: no such captions file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from ..io import read_metadata_file

        cols = read_metadata_file(path, columns=("caption",))
        if "caption" not in cols:
            raise InputError(f"{path}: no 'caption' column")
        return cols["caption"]
    if suffix in (".csv", ".tsv", ".jsonl", ".ndjson", ".json"):
        from ..data.folder import read_captions_file

        return [str(r["caption"]) for r in read_captions_file(path)]
    try:  # anything else: plain text, one caption per line
        return list(path.read_text(encoding="utf-8-sig").splitlines())
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read captions ({type(e).__name__}: {e})") from None


def _dump_pairs(source: Path) -> tuple[Any, Any, Sequence[str | None] | None]:
    """Every pair of a shard directory (a clip-retrieval dump or pair shards) and its captions."""
    import numpy as np

    from ..scale.sources import discover_shards, iter_blocks, read_header, read_metadata

    xs, ys, caps = [], [], []
    have_captions = True
    for shard in discover_shards(source):
        header = read_header(shard)
        for x, y in iter_blocks(shard, header, block_rows=65536):
            xs.append(np.array(x, dtype=np.float32))
            ys.append(np.array(y, dtype=np.float32))
        meta = read_metadata(shard, header, columns=("caption",)) if have_captions else None
        if meta is None or "caption" not in meta:
            have_captions = False
        else:
            caps.extend(meta["caption"])
    if not xs:
        raise InputError(f"{source}: the shards hold no pairs")
    return np.vstack(xs), np.vstack(ys), caps if have_captions else None


@click.command("export-viewer")
@pairs_input
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The .parquet file to write.")
@click.option("--method", type=click.Choice(["pca", "umap"]), default="pca", show_default=True,
              help="2-D projection of the joint set (umap needs the umap extra).")
@click.option("--captions", type=click.Path(path_type=Path), default=None,
              help="One caption per text row: .txt (one per line), .csv/.jsonl (a caption column), "
                   "a .parquet with a caption column, or a clip-retrieval dump folder.")
@click.option("--seed", default=0, show_default=True, type=int, help="UMAP's random state.")
def export_viewer(pairs_file: Path | None, image: Path | None, text: Path | None, image_key: str, text_key: str,
                  out: Path, method: str, captions: Path | None, seed: int) -> None:
    """Write both modalities in 2-D to a parquet file for embedding viewers.

    Columns: x, y (the 2-D coordinates of the L2-normalised rows), modality (image/text),
    pair_id (the image row each row belongs to), index (row within its modality) and
    caption (when known: --captions, the captions a `gaplab embed` pairs file carries, or a
    clip-retrieval dump's metadata/). PAIRS_FILE is any file `gaplab measure` reads, or a
    directory of shards (e.g. a clip-retrieval dump with img_emb/, text_emb/, metadata/).
    """
    from ..io import export_viewer as write
    from ..io import is_shard_source, load_pairs

    caps: Sequence[str | None] | None = None
    image_index = None
    if pairs_file is not None and image is None and text is None and is_shard_source(pairs_file):
        x, y, caps = _dump_pairs(pairs_file)
    else:
        p = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
        x, y, image_index = p.image, p.text, p.image_index
        known = p.meta.get("captions")
        if known is not None and len(known) == len(y):
            caps = [str(c) for c in known]
    if captions is not None:
        caps = _captions_from(captions)
    path = write(out, x, y, method=method, captions=caps, image_index=image_index, seed=seed)
    n_text = len(y)
    click.echo(f"wrote {path}: {len(x) + n_text} rows ({len(x)} image, {n_text} text; {method}"
               f"{', with captions' if caps is not None else ''})")
