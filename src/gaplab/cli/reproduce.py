"""``gaplab reproduce``: run a paper's experiment as a recipe."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ._common import echo_json, parse_params


@click.command()
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List every recipe with one line each.")
@click.option("--quick", is_flag=True, help="Small scale (under a minute on 2 CPUs).")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder (default runs/NAME).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--pairs", type=click.Path(path_type=Path), help="Run on your own paired embeddings (recipes that only need embeddings).")
@click.option("--param", "params", multiple=True, help="Recipe parameter key=value (repeatable).")
@click.option("--threads", default=1, show_default=True, type=int, help="torch/BLAS threads (small models: 1 is fastest).")
@click.option("--overwrite", is_flag=True, help="Replace the run already in the output folder (default: refuse).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the run record (run.json) to stdout (and nothing else: progress goes to stderr).")
def reproduce(
    name: str | None, list_: bool, quick: bool, out: Path | None, seed: int,
    pairs: Path | None, params: tuple[str, ...], threads: int, overwrite: bool, as_json: bool,
) -> None:
    """Reproduce an experiment of the papers: NAME, or --list.

    The output folder must not hold another run (give --overwrite to replace it).
    """
    from ..recipes import get_recipe, list_recipes
    from ..recipes import reproduce as run

    if list_ or name is None:
        for n in list_recipes():
            r = get_recipe(n)
            click.echo(f"{n:<24} {r.paper:<10} {r.summary}")
        return
    # with --json, stdout carries exactly one JSON object: whatever a recipe prints goes to stderr
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        result = run(name, quick=quick, out=out, seed=seed, pairs=pairs, params=parse_params(params, forms="key=value"),
                     verbose=not as_json, threads=threads, overwrite=overwrite)
    if as_json:
        echo_json(result.to_dict())
