"""``gaplab embed``: encode a dataset or a folder of images + captions into a pairs file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from .._errors import InputError
from .._registry import option_names
from ._common import echo_json


def _load_data(
    dataset: str | None,
    images: Path | None,
    captions: Path | None,
    options: dict[str, Any],
) -> Any:
    from ..data import DATASETS, create_dataset, list_datasets, load_image_folder

    if dataset is not None and (images is not None or captions is not None):
        raise InputError("embed: give either --dataset or --images with --captions, not both")
    if dataset is None:
        if images is None or captions is None:
            raise InputError("embed: give --dataset NAME, or both --images DIR and --captions FILE")
        used = [k for k, v in options.items() if v is not None and k != "seed"]
        if used:
            flags = ", ".join("--" + k.replace("_", "-").replace("path", "data-path") for k in used)
            raise InputError(f"embed: {flags} only apply to --dataset, not to --images/--captions")
        return load_image_folder(images, captions)
    if dataset == "folder":
        raise InputError("embed: for your own images use --images DIR --captions FILE instead of --dataset folder")
    accepted = option_names(DATASETS.get(dataset)) if dataset in list_datasets() else None
    for k, v in options.items():
        if v is not None and accepted is not None and k not in accepted:
            flag = "--data-path" if k == "path" else "--" + k.replace("_", "-")
            raise InputError(f"embed: {flag} does not apply to dataset {dataset!r}")
    return create_dataset(dataset, **options)


def _collapse_check(image_emb: Any, text_emb: Any, dataset: Any) -> list[str]:
    """Warnings for a modality whose rows are (nearly) all the same vector.

    Such a collapse comes from an empty tokenizer or a broken image processor; the number of
    distinct captions tells legitimate repeats apart.
    """
    from ..metrics.functional.diagnostics import collapse_warnings

    return collapse_warnings(image_emb, text_emb, captions=list(dataset.captions))


@click.command()
@click.option("--model", "-m", "model", required=True,
              help="Built-in name (gaplab-minilm-digits, ...), a local CLIP/SigLIP folder, or a cached model id.")
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Weights for a built-in model (from gaplab train).")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Hugging Face cache to find model ids in (offline).")
@click.option("--dataset", "-d", help="A registered dataset: digits, fashion-mnist, mad, ...")
@click.option("--images", type=click.Path(path_type=Path), help="Folder of your images.")
@click.option("--captions", type=click.Path(path_type=Path), help="CSV/JSONL with image and caption columns.")
@click.option("--split", default=None, help="Dataset split: train, test or all (the dataset's default if unset).")
@click.option("--limit", type=int, help="Embed a seeded random subset of at most this many images.")
@click.option("--captions-per-image", type=int, help="Captions drawn per image from the templates.")
@click.option("--data-path", type=click.Path(path_type=Path), help="Where the dataset's files are (Fashion-MNIST).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split, subset and captions.")
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Output pairs file (.npz).")
@click.option("--batch-size", default=64, show_default=True, type=int)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1, mps, or auto.")
@click.option("--fp16/--no-fp16", default=None, help="Half precision (GPU only; default on for GPU).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def embed(
    model: str,
    checkpoint: Path | None,
    cache_dir: Path | None,
    dataset: str | None,
    images: Path | None,
    captions: Path | None,
    split: str | None,
    limit: int | None,
    captions_per_image: int | None,
    data_path: Path | None,
    seed: int,
    out: Path,
    batch_size: int,
    device: str,
    fp16: bool | None,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Encode image–caption pairs with a model and write a pairs file for `gaplab measure`.

    \b
    gaplab embed --dataset digits --model gaplab-minilm-digits --out d.npz
    gaplab embed --model ./my-clip --images photos/ --captions captions.csv --out p.npz

    The file holds image and text embeddings, image_index (when an image has several
    captions), ids, labels, captions and the model name. Nothing is downloaded; the file
    is written atomically once everything is encoded.
    """  # noqa: D301 - a raw string would break click's \b (keep-formatting) marker
    if out.suffix.lower() != ".npz":
        raise InputError(f"embed: --out must be a .npz file, got {out}")
    if out.is_dir():
        raise InputError(f"embed: --out {out} is a folder; give a file name ending in .npz")
    if batch_size < 1:
        raise InputError(f"embed: --batch-size must be positive, got {batch_size}")
    options = {"split": split, "limit": limit, "captions_per_image": captions_per_image, "path": data_path, "seed": seed}
    data = _load_data(dataset, images, captions, options)

    from ..models.adapters import create_encoder, embed_to_file

    t0 = time.perf_counter()
    encoder = create_encoder(model, device=device, fp16=fp16, checkpoint=checkpoint, cache_dir=cache_dir)
    summary = embed_to_file(encoder, data, out, batch_size=batch_size, progress=progress, check=_collapse_check)
    summary["load_seconds"] = round(time.perf_counter() - t0 - summary["encode_seconds"], 3)
    for msg in summary["warnings"]:  # loud, but the file is written: repeats can be legitimate
        click.echo(f"gaplab: warning: {msg}", err=True)
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"wrote {out}: {summary['n_images']} images, {summary['n_captions']} captions, d={summary['dim']}, "
            f"model {summary['model']} ({summary['encode_seconds']:.1f} s, {summary['pairs_per_second']:.0f} pairs/s)"
        )
