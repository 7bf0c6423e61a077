"""Helpers shared by CLI commands: JSON printing and metric tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from .._json import dumps


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
