"""``gaplab measure`` and ``gaplab example``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from .._errors import ConfigError
from ._common import echo_json, echo_table, format_value, pairs_input, split_param


@click.command()
@pairs_input
@click.option("--temperature", default=0.01, show_default=True, type=float, help="Temperature of the logit entropy.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the separability split, the subsamples and the --ci resamples.")
@click.option("--fast", is_flag=True, help="Only the exact O(N·d) metrics (skip O(N²) and fitted ones).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table (= --format json).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "clip-benchmark"]), default="table",
              show_default=True, help="clip-benchmark: CLIP_benchmark's zeroshot_retrieval JSON (gap metrics "
              "under 'gaplab'); name the run with --meta dataset=… --meta model=… --meta pretrained=….")
@click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
              help="For --format clip-benchmark: dataset, model, pretrained, language.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default=None,
              help="Shards: a thread pool here (local, default) or one Dask task per shard (dask).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Shards: threads (local) or LocalCluster workers (dask); default: CPU count.")
@click.option("--sample", type=click.IntRange(min=0), default=None,
              help="Shards: pairs sampled for the O(N²) and fitted metrics (default 10000; 0 skips).")
@click.option("--scheduler", default=None, help="Shards: address of a running Dask scheduler (tcp://host:8786).")
@click.option("--skip-bad-shards", is_flag=True, default=None,
              help="Shards: leave bad shards out and list them in the output instead of stopping.")
@click.option("--ci", "ci", is_flag=True, help="95% bootstrap intervals (seeded by --seed) and permutation nulls.")
@click.option("--ci-resamples", type=click.IntRange(min=2), default=200, show_default=True,
              help="Bootstrap resamples of --ci.")
@click.option("--ci-max-pairs", type=click.IntRange(min=4), default=2000, show_default=True,
              help="Pairs the O(N²) and fitted metrics of --ci are resampled on (seeded subsample).")
@click.option("--modality", "modalities", multiple=True, metavar="NAME=FILE",
              help="One modality's (N, d) embeddings; give two or more for every pair (one-to-one rows).")
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
    ci: bool,
    ci_resamples: int,
    ci_max_pairs: int,
    modalities: tuple[str, ...],
    fmt: str,
    meta: tuple[str, ...],
) -> None:
    """Every modality-gap metric of paired embeddings.

    PAIRS_FILE is a .npy (2, N, d), .npz, .pt, .safetensors or .parquet file; or give one
    file per modality with --image and --text.

    PAIRS_FILE may also be a directory or a quoted glob of shards (a clip-retrieval dump
    with img_emb/ and text_emb/, or .npz/.parquet/.npy pair shards): the O(N·d) metrics are
    then exact over every pair, streamed shard by shard, and the O(N²) ones run on a seeded
    sample of --sample pairs with 95% confidence intervals (see docs/scale.md).

    --ci adds seeded 95% bootstrap intervals (value [lo, hi]) and permutation nulls; the table
    shows each metric's chance level where it has one, then a plain-English reading.

    --modality NAME=FILE (two or more, instead of PAIRS_FILE) measures every pair of
    modalities and each one's distance to the joint centre (rows one-to-one, same N).
    """
    from ..io import is_shard_source

    fmt = "json" if as_json else fmt
    benchmark = _benchmark_meta(meta, fmt, pairs_file if pairs_file is not None else image)
    as_json = fmt == "json"
    ci_kwargs = {"ci": ci_resamples, "ci_max_pairs": ci_max_pairs} if ci else {}
    if modalities:
        if benchmark is not None:
            raise click.UsageError("--format clip-benchmark needs one pairs file (retrieval of one image-text pair)")
        if pairs_file is not None or image is not None or text is not None:
            raise click.UsageError("--modality cannot be combined with PAIRS_FILE, --image or --text")
        _measure_modalities(modalities, temperature=temperature, seed=seed, fast=fast, as_json=as_json,
                            **ci_kwargs)
        return

    shard_options = {
        "--engine": engine, "--workers": workers, "--sample": sample,
        "--scheduler": scheduler, "--skip-bad-shards": skip_bad_shards,
    }
    if pairs_file is not None and is_shard_source(pairs_file):
        if ci:
            raise click.UsageError("--ci applies to one pairs file; shard mode gives its own ci95 for the sampled metrics")
        if image is not None or text is not None:
            raise click.UsageError("--image/--text cannot be combined with a shard directory or glob")
        _measure_shards(pairs_file, image_key=image_key, text_key=text_key, temperature=temperature,
                        seed=seed, fast=fast, as_json=as_json,
                        engine=engine or ("dask" if scheduler else "local"),
                        workers=workers, sample=sample, scheduler=scheduler,
                        skip_bad_shards=bool(skip_bad_shards), benchmark=benchmark)
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
            **ci_kwargs,
        )
    except InputError as e:  # say which file(s) the bad rows are in
        source = pairs_file if pairs_file is not None else f"{image} + {text}"
        raise InputError(f"{source}: {e}") from None
    for msg in result.get("warnings", []):
        click.echo(f"gaplab: warning: {msg}", err=True)
    if benchmark is not None:
        _echo_benchmark(result, benchmark)
    elif as_json:
        echo_json(result)
    else:
        echo_measure_table(result, MEASURE_KEYS)


def _benchmark_meta(meta: tuple[str, ...], fmt: str, source: Path | None) -> dict[str, str] | None:
    """The dataset/model/pretrained/language names of ``--format clip-benchmark`` (else ``None``)."""
    if fmt != "clip-benchmark":
        if meta:
            raise click.UsageError("--meta only applies to --format clip-benchmark")
        return None
    out = {"dataset": Path(str(source)).stem if source is not None else "unknown", "model": "unknown",
           "pretrained": "unknown", "language": "en"}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or key not in out:
            raise click.UsageError(f"--meta takes KEY=VALUE with KEY one of {', '.join(out)}, got {item!r}")
        out[key] = value
    return out


def _echo_benchmark(result: dict[str, Any], benchmark: dict[str, str]) -> None:
    from ..io import clip_benchmark_json

    echo_json(clip_benchmark_json(result, dataset=benchmark["dataset"], model=benchmark["model"],
                                  pretrained=benchmark["pretrained"], language=benchmark["language"]))


#: keys of a ``measure`` result that are not table rows (printed after the table, or to stderr)
_NOT_ROWS = ("chance", "ci95", "ci", "null", "reading", "warnings")


def echo_measure_table(result: dict[str, Any], meanings: Mapping[str, str]) -> None:
    """``name  value [lo, hi]  chance  meaning`` per metric, then the nulls and the reading."""
    chance, ci95 = result.get("chance", {}), result.get("ci95", {})
    rows = {}
    for k, v in result.items():
        if k in _NOT_ROWS:
            continue
        shown = format_value(v)
        if k in ci95:
            shown += f" [{ci95[k][0]:.4f}, {ci95[k][1]:.4f}]"
        rows[k] = (shown, f"{chance[k]:.4g}" if k in chance else "")
    width = max(len(k) for k in rows)
    vw = max(12, *(len(v) for v, _ in rows.values() if len(v) <= 26))  # a long list overflows its cell
    cw = max(6, *(len(c) for _, c in rows.values()))
    click.echo(f"{'metric':<{width}}  {'value' + (' [95% CI]' if ci95 else ''):>{vw}}  {'chance':>{cw}}  meaning")
    for k, (v, c) in rows.items():
        click.echo(f"{k:<{width}}  {v:>{vw}}  {c:>{cw}}  {meanings.get(k, '')}".rstrip())
    if "ci" in result:
        info = result["ci"]
        click.echo(f"\nintervals: {info['method']}, {info['resamples']} resamples over {info['unit']}s, "
                   f"seed {info['seed']}" + (f"; O(N²)/fitted metrics on {info['subsample_pairs']} pairs"
                                             if "subsample_pairs" in info else ""))
    for k, nl in result.get("null", {}).items():
        click.echo(f"null of {k} ({nl['null']}): mean {nl['mean']:.4f}, 95% [{nl['range95'][0]:.4f}, "
                   f"{nl['range95'][1]:.4f}], p = {nl['p_value']:.3g} ({nl['permutations']} permutations)")
    if result.get("reading"):
        click.echo("\nreading:")
        for sentence in result["reading"]:
            click.echo(f"- {sentence}")


def _measure_modalities(items: tuple[str, ...], *, fast: bool, as_json: bool, **kwargs: Any) -> None:
    import re

    from .._errors import InputError
    from ..io import load_embeddings
    from ..metrics import MEASURE_KEYS, measure_modalities

    files: dict[str, str] = {}
    for item in items:
        name, path = split_param(item, option="--modality", forms="NAME=FILE")
        if name in files:
            raise ConfigError(f"--modality: {name!r} given twice ({files[name]} and {path})")
        files[name] = path
    arrays = {name: load_embeddings(path) for name, path in files.items()}  # errors name the file
    rows = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{files[n]} ({n}): {r} rows" for n, r in rows.items())
        raise InputError(f"--modality: every file needs the same number of rows (one-to-one), got {listed}")
    try:
        result = measure_modalities(arrays, include_pairwise=not fast, **kwargs)
    except InputError as e:  # say which file(s) the bad rows are in
        named = [f"{files[n]} ({n})" for n in files if re.search(rf"'{re.escape(n)}'", str(e))]
        raise InputError(f"{', '.join(named or files.values())}: {e}") from None
    for pair, res in result["pairs"].items():
        for msg in res.get("warnings", []):
            click.echo(f"gaplab: warning: {pair}: {msg}", err=True)
    if as_json:
        echo_json(result)
        return
    for pair, res in result["pairs"].items():
        a, b = pair.split("|")
        click.echo(f"== {a} (image side) vs {b} (text side) ==")
        echo_measure_table(res, MEASURE_KEYS)
        click.echo("")
    click.echo("distance of each modality's centroid to the joint centre (mean of the centroids):")
    echo_table({n: d for n, d in result["centroid_distance"].items()})


def _measure_shards(source: Path, *, fast: bool, as_json: bool, sample: int | None,
                    benchmark: dict[str, str] | None, **kwargs) -> None:
    from ..metrics import MEASURE_KEYS
    from ..scale import SCALE_KEYS, measure_shards

    result = measure_shards(
        str(source), sample=0 if fast else (10_000 if sample is None else sample), progress=None, **kwargs
    )
    if benchmark is not None:
        _echo_benchmark(result, benchmark)
        return
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
