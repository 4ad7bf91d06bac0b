"""What a service method may be: the checks made when an interface is declared.

This is the one place that says which method shapes servicewire supports. ``@service`` runs
:func:`check_service` on the interface (refusing the class at once), and a method whose type
hints could not be resolved at declaration (a forward reference to a class defined later) is
checked again when its hints are resolved (:func:`check_method`).

Supported: ``def`` methods (their calls are synchronous) and ``async def`` methods (their
calls are awaited), in any mix, whose every parameter (``self`` aside; ``*args`` and
``**kwargs`` too, each value of the annotated type) and result is annotated with a type the
codec carries (:func:`~container.wire._carried.uncarried` asks msgspec). Not supported:
streaming results (generator methods, or an iterator or a generator anywhere in a declared
type), awaitables as declared types (write ``async def m(...) -> T``), and any other type the
codec cannot build (a ``Callable``, a plain class, ``complex``).
"""

from __future__ import annotations

import collections.abc
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..wire._carried import uncarried
from ._component import Component, Service

SUPPORTED = (
    "servicewire supports `def` and `async def` methods whose every parameter and result is "
    "annotated with a type the codec carries: bool, int, float, str, bytes, None, list, tuple, "
    "set, frozenset, dict, Optional/Union, Literal, Enum, datetime, date, time, timedelta, UUID, "
    "Decimal, dataclasses, attrs classes, msgspec Structs, TypedDicts, NamedTuples, pydantic "
    "models, Any and object (see docs/calls.md)"
)

_STREAMS = (
    collections.abc.Iterator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
)
"""Types that stream values one by one (generators included), which no channel carries."""

_AWAITABLES = (collections.abc.Awaitable,)
"""Types a caller awaits (coroutines included): an ``async def`` method declares its result."""

_STREAM_NAMES = re.compile(
    r"^\s*(?:typing\.|collections\.abc\.|abc\.)?"
    r"(Iterator|Generator|AsyncIterator|AsyncGenerator|AsyncIterable)\b"
)
"""The same types, spelled in a string annotation that cannot be resolved yet."""


def check_service(interface: type, methods: dict[str, Callable[..., Any]]) -> None:
    """Refuse the first public method of ``interface`` whose shape servicewire cannot serve.

    Args:
        interface: the class being declared with ``@service``.
        methods: its public methods by name.

    Raises:
        TypeError: the method (and the parameter), what is wrong with it, and what is
            supported.
    """
    for name, function in methods.items():
        check_method(interface, name, function, _resolved_hints(function))


def check_method(
    interface: type, name: str, function: Callable[..., Any], hints: Mapping[str, Any] | None
) -> None:
    """Refuse one method whose shape servicewire cannot serve.

    Args:
        interface: the declaring interface.
        name: the method name.
        function: the method.
        hints: its resolved type hints, or None when they cannot be resolved yet (a forward
            reference to a class defined later: what can be seen without them is checked now,
            the rest when they are resolved).

    Raises:
        TypeError: the method (and the parameter), what is wrong with it, and what is
            supported.
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
    annotations = getattr(function, "__annotations__", {})
    for parameter in list(inspect.signature(function).parameters.values())[1:]:  # after self
        if parameter.name not in annotations:
            raise TypeError(
                f"{where}: parameter {_spelled_parameter(parameter)!r} has no type annotation, so "
                "the server could not decode its argument; annotate it (`Any` takes any plain "
                f"value); {SUPPORTED}"
            )
    if "return" not in annotations:
        raise TypeError(
            f"{where} has no return annotation, so the caller could not decode its result; "
            f"annotate it (`-> None` when it returns nothing); {SUPPORTED}"
        )
    if hints is None:
        returns = annotations["return"]
        if isinstance(returns, str) and _STREAM_NAMES.match(returns):
            raise TypeError(
                f"{where} returns {returns}, and streaming results are not supported; return a "
                f"list of the values instead; {SUPPORTED}"
            )
        return
    for parameter in list(inspect.signature(function).parameters.values())[1:]:
        _check_type(f"{where}: parameter {_spelled_parameter(parameter)!r} is typed", hints[parameter.name])
    _check_type(f"{where} returns", hints["return"])


def _check_type(what: str, hint: Any) -> None:
    """Refuse a parameter's or result's type that the codec cannot carry, saying why.

    ``what`` begins the message: ``"Api.m: parameter 'f' is typed"``, ``"Api.m returns"``.
    """
    found = uncarried(hint)
    if found is None:
        return
    spelled = _spelled(hint)
    outer = hint if typing.get_origin(hint) is None else typing.get_origin(hint)
    inner = "" if found is outer else f" (because of {_spelled(found)})"
    if isinstance(found, type) and issubclass(found, _STREAMS):
        streamed = "results" if what.endswith("returns") else "arguments"
        raise TypeError(
            f"{what} {spelled}{inner}, and streaming {streamed} are not supported; carry a list "
            f"of the values instead; {SUPPORTED}"
        )
    if isinstance(found, type) and issubclass(found, _AWAITABLES):
        raise TypeError(
            f"{what} {spelled}{inner}, an awaitable, which no channel carries; declare "
            f"the method `async def` with the awaited type instead (`async def m(...) -> int`); "
            f"{SUPPORTED}"
        )
    raise TypeError(f"{what} {spelled}{inner}, which the codec cannot carry; {SUPPORTED}")


def _resolved_hints(function: Callable[..., Any]) -> dict[str, Any] | None:
    """The resolved type hints; None when they cannot be resolved yet (checked again later)."""
    try:
        return typing.get_type_hints(function)
    except Exception:  # a forward reference to a class defined later: checked again when resolved
        return None


def _spelled_parameter(parameter: inspect.Parameter) -> str:
    if parameter.kind == parameter.VAR_POSITIONAL:
        return f"*{parameter.name}"
    if parameter.kind == parameter.VAR_KEYWORD:
        return f"**{parameter.name}"
    return parameter.name


def _spelled(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        text = hint.__qualname__
    else:
        text = repr(hint)
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
