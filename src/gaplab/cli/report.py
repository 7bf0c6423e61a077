"""``gaplab report``: an HTML (or Markdown) report from pairs files and run folders."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default="report.html", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True)
@click.option("--title", default=None, help="Report title.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--umap/--no-umap", default=None, help="UMAP view (default: when umap-learn is installed).")
@click.option("--max-rows", default=2000, show_default=True, type=int, help="Rows sampled for plots and O(N²) metrics.")
@click.option("--progress/--no-progress", default=None,
              help="Stage messages on stderr (default: when stderr is a terminal).")
def report(inputs: tuple[Path, ...], out: Path, fmt: str, title: str | None, seed: int,
           umap: bool | None, max_rows: int, progress: bool | None) -> None:
    """Report on INPUT... (pairs files and/or run folders of train, reproduce or demo)."""
    from ..report import build_report

    if progress is None:
        progress = sys.stderr.isatty()
    click.echo(str(build_report(list(inputs), out, format=fmt, title=title, seed=seed, umap=umap, max_rows=max_rows,
                                progress=progress)))
