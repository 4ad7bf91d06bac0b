"""What a service method may be: the checks made when an interface is declared.

This is the one place that says which method shapes servicewire supports. ``@service`` runs
:func:`check_service` on the interface (refusing the class at once), and a method whose type
hints could not be resolved at declaration (a forward reference to a class defined later) is
checked again when its hints are resolved (:func:`check_method`).

Supported: ``def`` methods (their calls are synchronous) and ``async def`` methods (their
calls are awaited), in any mix, whose parameters and result are values the codec carries. Not
supported yet: streaming results (generator and async generator methods, or a declared result
that is an iterator or a generator).
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from ._component import Component, Service

SUPPORTED = (
    "servicewire supports `def` and `async def` methods whose parameters and result are values "
    "the codec carries (see docs/calls.md)"
)

_STREAMS = {
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.AsyncIterable,
}
"""Result types that stream values one by one, which no channel carries."""

_STREAM_NAMES = re.compile(
    r"^\s*(?:typing\.|collections\.abc\.|abc\.)?"
    r"(Iterator|Generator|AsyncIterator|AsyncGenerator|AsyncIterable)\b"
)
"""The same types, spelled in a string annotation that cannot be resolved yet."""

_NOT_YET = object()


def check_service(interface: type, methods: dict[str, Callable[..., Any]]) -> None:
    """Refuse the first public method of ``interface`` whose shape servicewire cannot serve.

    Args:
        interface: the class being declared with ``@service``.
        methods: its public methods by name.

    Raises:
        TypeError: the method, what is wrong with it, and what is supported.
    """
    for name, function in methods.items():
        check_method(interface, name, function, _return_hint(function))


def check_method(interface: type, name: str, function: Callable[..., Any], returns: Any) -> None:
    """Refuse one method whose shape servicewire cannot serve.

    Args:
        interface: the declaring interface.
        name: the method name.
        function: the method.
        returns: its resolved return hint, or a string annotation not resolved yet.

    Raises:
        TypeError: the method, what is wrong with it, and what is supported.
    """
    where = f"{interface.__qualname__}.{name}"
    if inspect.isasyncgenfunction(function):
        raise TypeError(
            f"{where} is an async generator (it yields), and streaming results are not supported; "
            f"return a list of the values instead; {SUPPORTED}"
        )
    if inspect.isgeneratorfunction(function):
        raise TypeError(
            f"{where} is a generator (it yields), and streaming results are not supported; "
            f"return a list of the values instead; {SUPPORTED}"
        )
    streams = _names_a_stream(returns)
    if streams is not None:
        raise TypeError(
            f"{where} returns {streams}, and streaming results are not supported; return a "
            f"list of the values instead; {SUPPORTED}"
        )


def _return_hint(function: Callable[..., Any]) -> Any:
    """The resolved return hint; the raw annotation when it cannot be resolved yet."""
    try:
        return typing.get_type_hints(function).get("return")
    except Exception:  # a forward reference to a class defined later: checked again when resolved
        return getattr(function, "__annotations__", {}).get("return", _NOT_YET)


def _names_a_stream(hint: Any) -> str | None:
    if isinstance(hint, str):
        match = _STREAM_NAMES.match(hint)
        return hint if match else None
    origin = typing.get_origin(hint) or hint
    if origin in _STREAMS:
        return _spelled(hint)
    return None


def _spelled(hint: Any) -> str:
    text = repr(hint) if typing.get_origin(hint) is not None else getattr(hint, "__qualname__", repr(hint))
    return text.replace("collections.abc.", "").replace("typing.", "")


def unimplemented_methods(interface: type, implementation: type) -> list[str]:
    """Return the methods of ``interface`` that ``implementation`` leaves to the interface.

    A method an implementation does not override would run the interface's declaration (an
    empty body answering None), so every public method of a service interface must be
    overridden; for a component interface, its lifecycle methods too (``startup``,
    ``shutdown``, ``get_addresses``, ``get_status``, ``get_health``: AbstractComponent
    provides all but ``get_addresses``).

    Returns:
        ``Interface.method`` for each one left, in declaration order.
    """
    declared_by = {klass for klass in interface.__mro__ if klass is not object}
    names = list(_public_functions(interface))
    if issubclass(interface, Component):
        names = [name for name in _public_functions(Component) if name not in names] + names
    missing = []
    for name in names:
        owner = next((klass for klass in implementation.__mro__ if name in vars(klass)), None)
        if owner is None or owner in declared_by:
            missing.append(f"{(owner or interface).__qualname__}.{name}")
    return missing


def mismatched_methods(interface: type, implementation: type) -> list[str]:
    """Return the methods ``implementation`` implements the other way than ``interface`` declares them.

    A method the interface declares ``async def`` must be ``async def`` in the implementation,
    and a ``def`` one a ``def``: callers given the implementation itself (the local shortcut)
    await it, or not, as the interface says. Only a service's own methods are compared (a
    component's lifecycle methods may be either).

    Returns:
        One phrase per such method, in declaration order, for example
        ``"HelloImpl.greet is `def`, HelloService.greet is `async def`"``.
    """
    found = []
    for name, declared in _public_functions(interface).items():
        if issubclass(interface, Component) and name in _LIFECYCLE:
            continue
        implemented = getattr(implementation, name, None)
        if implemented is None or implemented is declared:
            continue
        wanted, got = _way(declared), _way(implemented)
        if wanted != got:
            owner = next((k for k in implementation.__mro__ if name in vars(k)), implementation)
            found.append(
                f"{owner.__qualname__}.{name} is `{got}`, {interface.__qualname__}.{name} is `{wanted}`"
            )
    return found


def _way(function: Any) -> str:
    return "async def" if inspect.iscoroutinefunction(function) else "def"


_LIFECYCLE = frozenset({"startup", "shutdown", "get_addresses", "get_status", "get_health"})


def _public_functions(cls: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (Service, object) or (klass is Component and cls is not Component):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found[name] = value
    return found
