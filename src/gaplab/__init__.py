"""gaplab: measure, explain, reproduce and mitigate the modality gap of contrastive models.

The six parts: :mod:`gaplab.metrics` (measure), :mod:`gaplab.train`, :mod:`gaplab.recipes`
(reproduce), :mod:`gaplab.mitigate`, :mod:`gaplab.scale`, :mod:`gaplab.report` (show).
Importing ``gaplab`` loads only numpy/scipy; torch loads with :mod:`gaplab.train`.
"""

from __future__ import annotations

from ._errors import ConfigError, GaplabError, InputError, NotFittedError, UnknownNameError
from .io import load_pairs, save_pairs
from .metrics import MetricSuite, list_metrics, measure, measure_modalities
from .metrics.tracker import GapTracker

__version__ = "0.1.0"


def reproduce(name: str, **kwargs: object) -> object:
    """Run a recipe (see :func:`gaplab.recipes.reproduce`); recipes load on first use."""
    from .recipes import reproduce as _reproduce

    return _reproduce(name, **kwargs)  # type: ignore[arg-type]

__all__ = [
    "GaplabError", "InputError", "NotFittedError", "UnknownNameError", "ConfigError",
    "MetricSuite", "GapTracker", "measure", "measure_modalities", "list_metrics", "load_pairs", "save_pairs", "reproduce", "__version__",
]
