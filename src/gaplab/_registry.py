"""A tiny name → object registry shared by every kind of named thing gaplab has.

Follows timm's ``register_model`` / ``list_models`` / ``create_model`` and open_clip's error
that lists what exists: an unknown name raises :class:`~gaplab.UnknownNameError` naming the
closest match. One style everywhere:

* each kind has a ``register_<kind>("name")`` decorator over its :class:`Registry`;
* ``list_<kind>s(filter)`` lists names, ``get_<kind>(name)`` returns the registered object;
* ``create_<kind>(name, **kwargs)`` builds one (:meth:`Registry.create`): keyword arguments
  left ``None`` are dropped so the defaults stand, unknown ones are refused by
  :func:`check_options` with the valid ones listed.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from ._errors import ConfigError, UnknownNameError

T = TypeVar("T")

__all__ = ["Registry", "check_options", "option_names"]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def option_names(fn: Callable[..., Any], *, kinds: Sequence[Any] = _NAMED) -> list[str] | None:
    """The keyword arguments ``fn`` (a function, class or partial) takes; ``None`` if it takes ``**kwargs``.

    >>> option_names(lambda a, *, b=1: None)
    ['a', 'b']
    """
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in kinds and p.name != "self"]


def check_options(options: Iterable[str], valid: Sequence[str] | None, what: str) -> None:
    """Raise :class:`~gaplab.ConfigError` for keys of ``options`` not in ``valid`` (``None``: any key).

    The one wording for a keyword a function, class or loss does not take:

    >>> check_options({"alpha": 1}, ["k", "renormalize"], "mitigation 'remove-dims'")
    Traceback (most recent call last):
    ...
    gaplab._errors.ConfigError: mitigation 'remove-dims' has no parameter 'alpha'; valid: k, renormalize
    """
    if valid is None:
        return
    bad = [k for k in options if k not in valid]
    if bad:
        s = "s" if len(bad) > 1 else ""
        raise ConfigError(
            f"{what} has no parameter{s} {', '.join(repr(k) for k in bad)}; valid: {', '.join(valid) or '(none)'}"
        )


class Registry(Generic[T]):
    """Named objects of one kind, e.g. ``Registry("loss")``.

    >>> r = Registry("loss")
    >>> @r.register("clip")
    ... def clip_loss(scale=1): return scale
    >>> r.list()
    ['clip']
    >>> r.get("clip")()
    1
    >>> r.create("clip", scale=None)  # None: keep the default
    1
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding an object under ``name``; a name taken by another object raises.

        The same definition registered again (its module imported a second time) replaces
        the first.
        """

        def deco(obj: T) -> T:
            old = self._items.get(name)
            if old is not None and _origin(old) != _origin(obj):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """``register(name)(obj)``: for objects that are not written as a ``def`` or ``class``."""
        return self.register(name)(obj)

    def list(self, filter: str | None = None) -> list[str]:
        """The names, sorted; ``filter`` is a shell wildcard (``"mean_*"``)."""
        names = sorted(self._items)
        if filter:
            names = [n for n in names if fnmatch.fnmatch(n, filter)]
        return names

    def get(self, name: str) -> T:
        """The object registered as ``name`` (:class:`~gaplab.UnknownNameError` lists the valid ones)."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Call the factory registered as ``name`` with ``kwargs`` (timm's ``create_model``).

        Arguments left ``None`` are dropped so the defaults stand; the rest must be keyword
        arguments the factory takes (:func:`check_options`).
        """
        factory = self.get(name)
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        check_options(kwargs, option_names(factory), f"{self.kind} {name!r}")  # type: ignore[arg-type]
        return factory(**kwargs)  # type: ignore[operator]

    def unknown_message(self, name: str) -> str:
        """``unknown <kind> 'x'; valid: a, b. Did you mean 'y'?``."""
        valid = self.list()
        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}; valid: {', '.join(valid)}.{hint}"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._items)


def _origin(obj: Any) -> tuple[Any, Any] | int:
    """Where ``obj`` was defined (module, qualified name), or its identity for plain objects."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return (module, qualname) if module and qualname else id(obj)


F = TypeVar("F", bound=Callable[..., Any])

