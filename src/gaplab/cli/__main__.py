"""Entry point for ``python -m gaplab.cli``: runs the ``gaplab`` command-line interface."""

from gaplab.cli import main

main()
