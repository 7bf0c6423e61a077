"""``gaplab train CONFIG --out DIR``: train from a YAML/TOML/JSON config (see :mod:`gaplab.train.spec`)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_json, echo_table


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Directory for run.json (the run record) and checkpoint.pt.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Override the config's device (auto = cuda when available).")
@click.option("--engine", type=click.Choice(["auto", "torch", "numba", "fast"]), default=None,
              help="Override the config's engine (numba = compiled path for free embeddings; fast = its old name).")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Override the config's steps.")
@click.option("--seed", type=int, default=None, help="Override the config's seed.")
@click.option("--resume", is_flag=True,
              help="Continue from DIR/checkpoint.pt when it exists (same settings and engine; more steps).")
@click.option("--overwrite", is_flag=True, help="Replace the run already in DIR (default: refuse).")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as one JSON object.")
def train(config: Path, out: Path, device: str | None, engine: str | None, steps: int | None,
          seed: int | None, resume: bool, overwrite: bool, progress: bool | None, as_json: bool) -> None:
    """Train a contrastive model as CONFIG says and record the gap over training.

    CONFIG is a .yaml/.yml, .toml or .json file whose keys are the Trainer's options, e.g.

    \b
        model: {kind: free, n: 1000, dim: 3, init: polar}
        loss: clip
        temperature: 0.07
        steps: 20000
        eval_every: 2000

    DIR must not hold another run (give --overwrite to replace it); --resume continues the
    run in DIR with the same settings.
    """  # noqa: D301 - a raw string would break click's \b (keep-formatting) marker
    from ..train.run import run_spec
    from ..train.spec import load_spec

    overrides: dict[str, object] = {}
    if engine is not None:
        overrides["engine"] = engine
    if steps is not None:
        overrides["steps"] = steps
        overrides["epochs"] = None
    if seed is not None:
        overrides["seed"] = seed
    if device is not None:
        overrides["device"] = device
    if progress is not None:
        overrides["progress"] = progress
    spec = load_spec(config, overrides)
    final = run_spec(spec, out, resume=resume, overwrite=overwrite)
    if as_json:
        echo_json(final)
    else:
        echo_table({k: v for k, v in final.items() if isinstance(v, (int, float, str))})
        click.echo(f"wrote {out}/run.json and the checkpoint")
