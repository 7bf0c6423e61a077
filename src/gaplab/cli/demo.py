"""``gaplab demo``: the end-to-end offline demo (the ``demo`` recipe), then its report."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import echo_json


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default="gaplab-demo", show_default=True)
@click.option("--quick", is_flag=True, help="A smaller run (under 30 s), as the tests use.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--mitigation", default="ts", show_default=True, help="Temperature strategy of the second run (002).")
@click.option("--steps", default=None, type=int, help="Training steps per run (default 400, quick 60).")
@click.option("--overwrite", is_flag=True, help="Replace the demo already in --out (default: refuse).")
@click.option("--json", "as_json", is_flag=True, help="Print the run record (run.json) to stdout.")
def demo(out: Path, quick: bool, seed: int, mitigation: str, steps: int | None, overwrite: bool,
         as_json: bool) -> None:
    """Train and measure a MiniLM two-tower on digits, mitigate its gap, write a report.

    --out must not hold another run (give --overwrite to replace it).
    """
    from ..recipes import reproduce
    from ..report import build_report

    params: dict[str, object] = {"mitigation": mitigation}
    if steps is not None:
        params["steps"] = steps
    record = reproduce("demo", quick=quick, out=out, seed=seed, params=params, verbose=False,
                       progress=not as_json, overwrite=overwrite)
    build_report([out], out / "report.html", title="gaplab demo: the modality gap of a MiniLM two-tower on digits",
                 seed=seed, umap=False if quick else None, progress=not as_json)
    if as_json:
        echo_json(record.to_dict())
        return
    click.echo(f"\n{'stage':<44} {'L2M':>7} {'RMG':>7} {'zero-shot':>9}")
    for s in record.measured["stages"]:
        zs = "—" if s.get("zero_shot") is None else f"{s['zero_shot']:.3f}"
        click.echo(f"{s['stage']:<44} {s['l2m']:>7.3f} {s['rmg']:>7.3f} {zs:>9}")
    click.echo(f"\n{record.wall_time_s:.0f} s. Report: {out / 'report.html'}")
