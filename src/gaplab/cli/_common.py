"""Helpers shared by CLI commands: the pairs-file inputs, JSON printing and metric tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from .._json import dumps

_PAIRS_INPUT = (
    click.argument("pairs_file", required=False, type=click.Path(path_type=Path)),
    click.option("--image", type=click.Path(path_type=Path), help="Image embeddings (N, d), one modality per file."),
    click.option("--text", type=click.Path(path_type=Path), help="Text embeddings (N, d)."),
    click.option("--image-key", default="image", show_default=True, help="Key/column of the image embeddings."),
    click.option("--text-key", default="text", show_default=True, help="Key/column of the text embeddings."),
)


def pairs_input(f: Callable[..., Any]) -> Callable[..., Any]:
    """``PAIRS_FILE``, ``--image``, ``--text``, ``--image-key``, ``--text-key``: what
    :func:`gaplab.io.load_pairs` reads, for every command that takes paired embeddings."""
    for deco in reversed(_PAIRS_INPUT):
        f = deco(f)
    return f


def echo_json(obj: Any) -> None:
    """Exactly one JSON object on stdout."""
    click.echo(dumps(obj))


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return ", ".join(f"{d.get('dim')}:{d.get('diff'):+.3f}" for d in v[:5])
    return str(v)


def echo_table(rows: Mapping[str, Any], meanings: Mapping[str, str] | None = None) -> None:
    """A readable two- or three-column table of ``name value [meaning]``."""
    width = max(len(k) for k in rows) if rows else 0
    for k, v in rows.items():
        meaning = (meanings or {}).get(k, "")
        click.echo(f"{k:<{width}}  {format_value(v):>12}  {meaning}".rstrip())
