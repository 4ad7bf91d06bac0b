"""What the public modules (``container``, ``container.plugin``, ...) do to their names.

Every public name's ``__module__`` is the module it is imported from, as httpx does, so reprs,
docs, pickles and the wire names of servicewire's exceptions read ``container.X``. A name that
left a public module keeps resolving from it for code written against the older surface,
silently (a warning would fail under ``-W error``): a module ``__getattr__`` finds it where it
lives now; it is in neither ``__all__`` nor ``dir()``.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def publish(namespace: Mapping[str, Any], names: Iterable[str], module: str) -> None:
    """Set the ``__module__`` of the classes and functions among ``names`` to ``module``.

    A class's own annotations are evaluated first, where they were written: ``typing`` looks
    the names of a class's string annotations up in the module its ``__module__`` names, and
    the public module does not hold ``ClassVar``, ``Mapping`` and the like. A function's are
    looked up in its ``__globals__``, which stay its own.
    """
    for name in names:
        value = namespace[name]
        if isinstance(value, types.GenericAlias):  # Python 3.10 calls `Callable[...]` a type too
            continue
        if isinstance(value, type):
            if value.__module__ != module:
                _evaluate_annotations(value)
            value.__module__ = module
        elif isinstance(value, types.FunctionType):
            value.__module__ = module


def _evaluate_annotations(cls: type) -> None:
    """Replace the string annotations a class declares itself by the objects they name.

    Each is evaluated alone, as ``typing.get_type_hints`` would, in the class's own module (a
    name only imported for type checkers stays a string).
    """
    own = inspect.get_annotations(cls)
    if not any(isinstance(a, str) for a in own.values()):
        return
    evaluated: dict[str, Any] = {}
    for key, annotation in own.items():
        if isinstance(annotation, str):
            namespace = {"__annotations__": {key: annotation}, "__module__": cls.__module__}
            holder = type("_Annotation", (), namespace)
            try:
                annotation = typing.get_type_hints(holder, localns=dict(vars(cls)), include_extras=True)[key]
            except Exception:  # noqa: S110 - unresolvable where written: left as it was
                pass
        evaluated[key] = annotation
    cls.__annotations__ = evaluated


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
