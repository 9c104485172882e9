"""A small keyed registry: formats, runtimes and converters register themselves here.

Modelled on skl2onnx's converter registration: stable string keys, no silent overwrite,
and a failed lookup names what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from workbench.core.errors import RegistryError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Registry(Generic[K, V]):
    """Ordered mapping of key -> item with explicit registration."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._items: dict[K, V] = {}

    def register(self, key: K, item: V, *, overwrite: bool = False) -> V:
        """Add `item` under `key`; registering a key twice needs `overwrite=True`."""
        if key in self._items and not overwrite:
            raise RegistryError(f"{self._what} {key!r} is already registered (pass overwrite=True to replace it)")
        self._items[key] = item
        return item

    def get(self, key: K) -> V:
        """Return the item for `key`, or raise naming the known keys."""
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(str(k) for k in self._items) or "none"
            raise RegistryError(f"unknown {self._what} {key!r}; known: {known}") from None

    def find(self, predicate: Callable[[V], bool]) -> list[V]:
        """Items for which `predicate` is true, in registration order."""
        return [item for item in self._items.values() if predicate(item)]

    def keys(self) -> list[K]:
        return list(self._items)

    def values(self) -> list[V]:
        return list(self._items.values())

    def items(self) -> list[tuple[K, V]]:
        return list(self._items.items())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
