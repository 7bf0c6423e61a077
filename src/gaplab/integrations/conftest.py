"""pytest: skip collecting (for doctests) the integrations whose library is not installed.

``pytest`` collects ``src/gaplab`` with ``--doctest-modules``, which imports every module, and
an integration module refuses to import without its library (a one-line ``ImportError``
naming the ``integrations`` extra). Not part of the API.
"""

from __future__ import annotations

import importlib.util

_NEEDS = {
    "transformers.py": ("torch", "transformers"),
    "lightning.py": ("torch", "lightning"),
    "torchmetrics.py": ("torch", "torchmetrics"),
}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


collect_ignore = [f for f, libs in _NEEDS.items() if not all(_installed(lib) for lib in libs)]
