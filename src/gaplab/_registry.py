"""A tiny name → object registry shared by losses, schedules, metrics, recipes, mitigations.

Follows timm's ``register_model`` / ``list_models`` and open_clip's error that lists what
exists: an unknown name raises :class:`~gaplab.UnknownNameError` naming the closest match.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ._errors import UnknownNameError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Named objects of one kind, e.g. ``Registry("loss")``.

    >>> r = Registry("loss")
    >>> @r.register("clip")
    ... def clip_loss(): return 1
    >>> r.list()
    ['clip']
    >>> r.get("clip")()
    1
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        return self.register(name)(obj)

    def list(self, filter: str | None = None) -> list[str]:
        names = sorted(self._items)
        if filter:
            names = [n for n in names if fnmatch.fnmatch(n, filter)]
        return names

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
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
