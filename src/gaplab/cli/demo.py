"""``gaplab demo``: the end-to-end offline demo (see :mod:`gaplab.report.demo`)."""

from __future__ import annotations

from pathlib import Path

import click

from .._errors import ConfigError
from ._common import echo_json


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default="gaplab-demo", show_default=True)
@click.option("--quick", is_flag=True, help="A smaller run (under 30 s), as the tests use.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--mitigation", default="ts", show_default=True, help="Temperature strategy of the second run (002).")
@click.option("--steps", default=None, type=int, help="Training steps per run (default 400, quick 60).")
@click.option("--overwrite", is_flag=True, help="Replace the demo already in --out (default: refuse).")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout.")
def demo(out: Path, quick: bool, seed: int, mitigation: str, steps: int | None, overwrite: bool,
         as_json: bool) -> None:
    """Train and measure a MiniLM two-tower on digits, mitigate its gap, write a report.

    --out must not hold another run (give --overwrite to replace it).
    """
    from ..report.demo import run_demo

    if seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {seed}")
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be a positive integer, got {steps}")
    summary = run_demo(out, quick=quick, seed=seed, mitigation=mitigation, steps=steps, progress=not as_json,
                       overwrite=overwrite)
    if as_json:
        echo_json(summary)
        return
    click.echo(f"\n{'stage':<44} {'L2M':>7} {'RMG':>7} {'zero-shot':>9}")
    for s in summary["stages"]:
        zs = "—" if s.get("zero_shot") is None else f"{s['zero_shot']:.3f}"
        click.echo(f"{s['stage']:<44} {s['l2m']:>7.3f} {s['rmg']:>7.3f} {zs:>9}")
    click.echo(f"\n{summary['wall_time_s']:.0f} s. Report: {out / 'report.html'}")
