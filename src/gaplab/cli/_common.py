"""Helpers shared by CLI commands.

The pairs-file inputs, ``NAME=VALUE`` parameters, JSON printing and metric tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from .._errors import ConfigError
from .._json import dumps

_PAIRS_INPUT = (
    click.argument("pairs_file", required=False, type=click.Path(path_type=Path)),
    click.option("--image", type=click.Path(path_type=Path), help="Image embeddings (N, d), one modality per file."),
    click.option("--text", type=click.Path(path_type=Path), help="Text embeddings (N, d)."),
    click.option("--image-key", default="image", show_default=True, help="Key/column of the image embeddings."),
    click.option("--text-key", default="text", show_default=True, help="Key/column of the text embeddings."),
)


def pairs_input(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the paired-embedding inputs to a click command.

    ``PAIRS_FILE``, ``--image``, ``--text``, ``--image-key``, ``--text-key``: what
    :func:`gaplab.io.load_pairs` reads, for every command that takes paired embeddings.
    """
    for deco in reversed(_PAIRS_INPUT):
        f = deco(f)
    return f


def parse_value(text: str) -> Any:
    """Parse a parameter value from the command line.

    JSON where it parses (numbers, lists, ``null``), ``true``/``false`` in any case, else the
    string itself.

    >>> parse_value("3"), parse_value("0.5"), parse_value("False"), parse_value("auto"), parse_value("[1, 2]")
    (3, 0.5, False, 'auto', [1, 2])
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        return text


def split_param(item: str, *, option: str = "--param", forms: str = "NAME=VALUE") -> tuple[str, str]:
    """One ``NAME=VALUE`` option value → ``(name, raw value)``, split at the first ``=``.

    ``forms`` is what the error message says the option takes.

    >>> split_param("alpha=0,0.5", option="--sweep")
    ('alpha', '0,0.5')
    """
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"{option} expects {forms}, got {item!r}")
    return name.strip(), value


def parse_param(item: str, *, option: str = "--param", forms: str = "NAME=VALUE") -> tuple[str, Any]:
    """One ``NAME=VALUE`` option value → ``(name, parsed value)`` (:func:`parse_value`).

    >>> parse_param("noise.std=0.2")
    ('noise.std', 0.2)
    """
    name, value = split_param(item, option=option, forms=forms)
    return name, parse_value(value)


def parse_params(items: Iterable[str], *, option: str = "--param", forms: str = "NAME=VALUE") -> dict[str, Any]:
    """Repeated ``NAME=VALUE`` options → ``{name: value}`` in the order given.

    A repeated name: the last value wins.

    >>> parse_params(["k=4", "renormalize=false", "alpha=auto"])
    {'k': 4, 'renormalize': False, 'alpha': 'auto'}
    """
    out: dict[str, Any] = {}
    for item in items:
        name, value = parse_param(item, option=option, forms=forms)
        out[name] = value
    return out


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
