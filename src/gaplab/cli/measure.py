"""``gaplab measure`` and ``gaplab example``."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_json, echo_table


@click.command()
@click.argument("pairs_file", required=False, type=click.Path(path_type=Path))
@click.option("--image", type=click.Path(path_type=Path), help="Image embeddings (N, d), one modality per file.")
@click.option("--text", type=click.Path(path_type=Path), help="Text embeddings (N, d).")
@click.option("--image-key", default="image", show_default=True, help="Key/column of the image embeddings.")
@click.option("--text-key", default="text", show_default=True, help="Key/column of the text embeddings.")
@click.option("--temperature", default=0.01, show_default=True, type=float, help="Temperature of the logit entropy.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the separability split.")
@click.option("--fast", is_flag=True, help="Only the exact O(N·d) metrics (skip O(N²) and fitted ones).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def measure(
    pairs_file: Path | None,
    image: Path | None,
    text: Path | None,
    image_key: str,
    text_key: str,
    temperature: float,
    seed: int,
    fast: bool,
    as_json: bool,
) -> None:
    """Every modality-gap metric of paired embeddings.

    PAIRS_FILE is a .npy (2, N, d), .npz, .pt, .safetensors or .parquet file; or give one
    file per modality with --image and --text.
    """
    from ..io import load_pairs
    from ..metrics import MEASURE_KEYS
    from ..metrics import measure as measure_fn

    pairs = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
    result = measure_fn(
        pairs.image,
        pairs.text,
        image_index=pairs.image_index,
        temperature=temperature,
        seed=seed,
        include_pairwise=not fast,
    )
    if as_json:
        echo_json(result)
    else:
        echo_table(result, MEASURE_KEYS)


@click.command()
@click.argument("out", type=click.Path(path_type=Path), default="example_pairs.npz")
@click.option("--n", default=2000, show_default=True, type=int)
@click.option("--dim", default=64, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
def example(out: Path, n: int, dim: int, seed: int) -> None:
    """Write a synthetic pairs file with a modality gap (for trying `gaplab measure`)."""
    from ..io import make_example_pairs

    click.echo(str(make_example_pairs(out, n=n, dim=dim, seed=seed)))
