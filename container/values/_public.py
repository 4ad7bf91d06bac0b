"""What the public modules (``container``, ``container.plugin``, ...) do to their names.

Every public name's ``__module__`` is the module it is imported from, as httpx does, so reprs,
docs, pickles and the wire names of servicewire's exceptions read ``container.X``. A name that
left a public module keeps resolving from it for code written against the older surface,
silently (a warning would fail under ``-W error``): a module ``__getattr__`` finds it where it
lives now; it is in neither ``__all__`` nor ``dir()``.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def publish(namespace: Mapping[str, Any], names: Iterable[str], module: str) -> None:
    """Set the ``__module__`` of the classes and functions among ``names`` to ``module``."""
    for name in names:
        value = namespace[name]
        if isinstance(value, types.GenericAlias):  # Python 3.10 calls `Callable[...]` a type too
            continue
        if isinstance(value, (type, types.FunctionType)):
            value.__module__ = module


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that resolves names which left ``module``, silently.

    Args:
        module: the public module's name, for the AttributeError of unknown names.
        moved: name -> ``"package.module:attribute"`` where it lives now (the attribute may
            be dotted: ``Status.OK``).
    """

    def resolve(name: str) -> Any:
        target = moved.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        module_name, _, attribute = target.partition(":")
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value

    return resolve
