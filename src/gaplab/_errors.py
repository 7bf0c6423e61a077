"""One error tree for the whole package (after einops' single ``EinopsError``).

Builtin bases keep ``except ValueError`` working, as scikit-learn does.
"""

from __future__ import annotations

__all__ = ["GaplabError", "InputError", "NotFittedError", "UnknownNameError", "ConfigError"]


class GaplabError(Exception):
    """Base class of every error gaplab raises on purpose."""


class InputError(GaplabError, ValueError):
    """Bad data: shapes, dtypes, NaN/inf, empty or mismatched inputs, unreadable files."""


class NotFittedError(GaplabError, ValueError, AttributeError):
    """A fit/transform object was used before ``fit``."""


class UnknownNameError(GaplabError, LookupError):
    """A registry lookup (loss, schedule, metric, recipe, mitigation, ...) failed."""

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigError(GaplabError, ValueError):
    """A configuration file or option is invalid."""
