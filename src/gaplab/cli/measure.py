"""``gaplab measure`` and ``gaplab example``."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_json, echo_table, pairs_input


@click.command()
@pairs_input
@click.option("--temperature", default=0.01, show_default=True, type=float, help="Temperature of the logit entropy.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the separability split.")
@click.option("--fast", is_flag=True, help="Only the exact O(N·d) metrics (skip O(N²) and fitted ones).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default=None,
              help="Shards: a thread pool here (local, default) or one Dask task per shard (dask).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Shards: threads (local) or LocalCluster workers (dask); default: CPU count.")
@click.option("--sample", type=click.IntRange(min=0), default=None,
              help="Shards: pairs sampled for the O(N²) and fitted metrics (default 10000; 0 skips).")
@click.option("--scheduler", default=None, help="Shards: address of a running Dask scheduler (tcp://host:8786).")
@click.option("--skip-bad-shards", is_flag=True, default=None,
              help="Shards: leave bad shards out and list them in the output instead of stopping.")
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
    engine: str | None,
    workers: int | None,
    sample: int | None,
    scheduler: str | None,
    skip_bad_shards: bool | None,
) -> None:
    """Every modality-gap metric of paired embeddings.

    PAIRS_FILE is a .npy (2, N, d), .npz, .pt, .safetensors or .parquet file; or give one
    file per modality with --image and --text.

    PAIRS_FILE may also be a directory or a quoted glob of shards (a clip-retrieval dump
    with img_emb/ and text_emb/, or .npz/.parquet/.npy pair shards): the O(N·d) metrics are
    then exact over every pair, streamed shard by shard, and the O(N²) ones run on a seeded
    sample of --sample pairs with 95% confidence intervals (see docs/scale.md).
    """
    from ..io import is_shard_source

    shard_options = {
        "--engine": engine, "--workers": workers, "--sample": sample,
        "--scheduler": scheduler, "--skip-bad-shards": skip_bad_shards,
    }
    if pairs_file is not None and is_shard_source(pairs_file):
        if image is not None or text is not None:
            raise click.UsageError("--image/--text cannot be combined with a shard directory or glob")
        _measure_shards(pairs_file, image_key=image_key, text_key=text_key, temperature=temperature,
                        seed=seed, fast=fast, as_json=as_json,
                        engine=engine or ("dask" if scheduler else "local"),
                        workers=workers, sample=sample, scheduler=scheduler,
                        skip_bad_shards=bool(skip_bad_shards))
        return
    given = [name for name, v in shard_options.items() if v not in (None, False)]
    if given:
        raise click.UsageError(f"{', '.join(given)} only apply to a shard directory or glob, not to one file")
    from .._errors import InputError
    from ..io import load_pairs
    from ..metrics import MEASURE_KEYS
    from ..metrics import measure as measure_fn

    pairs = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
    try:
        result = measure_fn(
            pairs.image,
            pairs.text,
            image_index=pairs.image_index,
            temperature=temperature,
            seed=seed,
            include_pairwise=not fast,
        )
    except InputError as e:  # say which file(s) the bad rows are in
        source = pairs_file if pairs_file is not None else f"{image} + {text}"
        raise InputError(f"{source}: {e}") from None
    for msg in result.get("warnings", []):
        click.echo(f"gaplab: warning: {msg}", err=True)
    if as_json:
        echo_json(result)
    else:
        echo_table(result, MEASURE_KEYS)


def _measure_shards(source: Path, *, fast: bool, as_json: bool, sample: int | None, **kwargs) -> None:
    from ..metrics import MEASURE_KEYS
    from ..scale import SCALE_KEYS, measure_shards

    result = measure_shards(
        str(source), sample=0 if fast else (10_000 if sample is None else sample), progress=None, **kwargs
    )
    if as_json:
        echo_json(result)
        return
    shown = {k: v for k, v in result.items() if k not in ("ci95", "skipped_shards", "timing")}
    for k, (lo, hi) in result["ci95"].items():
        shown[k] = f"{result[k]:.4f} [{lo:.4f}, {hi:.4f}]"
    shown["skipped_shards"] = len(result["skipped_shards"])
    echo_table(shown, {**MEASURE_KEYS, **SCALE_KEYS})
    for s in result["skipped_shards"]:
        click.echo(f"skipped {s['shard']}: {s['reason']}", err=True)


@click.command()
@click.argument("out", type=click.Path(path_type=Path), default="example_pairs.npz")
@click.option("--n", default=2000, show_default=True, type=int)
@click.option("--dim", default=64, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
def example(out: Path, n: int, dim: int, seed: int) -> None:
    """Write a synthetic pairs file with a modality gap (for trying `gaplab measure`)."""
    from ..io import make_example_pairs

    click.echo(str(make_example_pairs(out, n=n, dim=dim, seed=seed)))
