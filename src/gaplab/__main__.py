"""Entry point for ``python -m gaplab``: runs the ``gaplab`` command-line interface."""

from gaplab.cli import main

main()
