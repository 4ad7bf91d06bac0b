"""Proxy classes generated per service interface.

A proxy class subclasses the interface and defines every public method with the interface's
own signature, docstring and annotations, so ``isinstance``, ``inspect.signature``, ``help()``
and editors see the interface. Each method hands an :class:`Invocation` to the channel.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._calls import Invocation

if TYPE_CHECKING:
    from ..declarations._descriptors import MethodDescriptor, ServiceDescriptor


class CallTarget(Protocol):
    """Where a proxy's calls go: what a proxy needs of a channel (``Channel`` is one).

    The call layer names this protocol, so that it sits below the channel that implements it.
    """

    @property
    def name(self) -> str:
        """The channel name, for the proxy's repr."""

    def call(self, invocation: Invocation) -> Any:
        """Run one call made through a proxy and return its result."""

_classes: dict[type, type] = {}
_lock = threading.Lock()


def proxy_class(descriptor: ServiceDescriptor[Any]) -> type:
    """Return the proxy class of a service interface (generated once per interface)."""
    cls = _classes.get(descriptor.type)
    if cls is None:
        with _lock:
            cls = _classes.get(descriptor.type)
            if cls is None:
                cls = _generate(descriptor)
                _classes[descriptor.type] = cls
    return cls


class Binding:
    """Where a proxy's calls go: a channel chosen on the first call.

    Args:
        resolve: returns the channel; called with the first invocation (which it may delay
            until an address appears, up to the call's deadline), or with None when the
            channel is asked for outside a call.
    """

    __slots__ = ("_channel", "_lock", "_proxies", "_resolve")

    def __init__(self, resolve: Callable[[Invocation | None], CallTarget]) -> None:
        self._resolve = resolve
        self._channel: CallTarget | None = None
        self._lock = threading.Lock()
        self._proxies: list[Any] = []

    @property
    def resolved(self) -> CallTarget | None:
        """The channel once chosen, else None."""
        return self._channel

    def channel(self, invocation: Invocation | None = None) -> CallTarget:
        """Return the channel, choosing it now if no call did yet."""
        channel = self._channel
        if channel is None:
            channel = self._resolve(invocation)
            with self._lock:
                self._channel = channel
                for proxy in self._proxies:  # from now on, calls go to the channel directly
                    proxy._servicewire_call = channel.call
        return channel

    def call(self, invocation: Invocation) -> Any:
        """Send a proxy's call through the channel."""
        channel = self._channel
        if channel is None:
            channel = self.channel(invocation)
        return channel.call(invocation)


def make_proxy(descriptor: ServiceDescriptor[Any], target: CallTarget | Binding) -> Any:
    """Return a proxy of the service whose calls go through ``target``."""
    proxy: Any = object.__new__(proxy_class(descriptor))
    if isinstance(target, Binding):
        proxy._servicewire_call = target.call
        proxy._servicewire_binding = target
        target._proxies.append(proxy)
    else:
        proxy._servicewire_call = target.call
        proxy._servicewire_channel = target
    return proxy


def target_of(proxy: Any) -> CallTarget:
    """Return what a proxy's calls go through, choosing it now if no call did yet.

    Raises:
        TypeError: ``proxy`` is not a proxy (for example, the local implementation itself).
        NoAddressException: the proxy made no call yet and the registry knows no address.
    """
    if not getattr(type(proxy), "__servicewire_proxy__", False):
        raise TypeError(f"{proxy!r} is not a servicewire proxy, so it has no channel")
    target = vars(proxy).get("_servicewire_channel")
    if target is None:
        target = proxy._servicewire_binding.channel()
    return target  # type: ignore[no-any-return]


def _generate(descriptor: ServiceDescriptor[Any]) -> type:
    interface = descriptor.type
    namespace: dict[str, Any] = {
        "__module__": interface.__module__,
        "__doc__": f"Proxy of {interface.__qualname__}: calls travel through a channel.\n\n"
        + (interface.__doc__ or ""),
        "__init__": _no_init,
        "__repr__": _repr,
        "__servicewire_proxy__": True,
    }
    for name, method in descriptor.methods.items():
        namespace[name] = _method(method)
    return type(f"{interface.__name__}Proxy", (interface,), namespace)


def _no_init(self: Any, *args: Any, **kwargs: Any) -> None:
    raise TypeError("proxies are created by ServiceManager.get_service, not directly")


def _repr(self: Any) -> str:
    channel = vars(self).get("_servicewire_channel")
    if channel is None:
        channel = self._servicewire_binding.resolved
    via = repr(channel.name) if channel is not None else "a channel chosen on the first call"
    return f"<{type(self).__name__} via {via}>"


def _method(method: MethodDescriptor) -> Any:
    original = getattr(method.service.type, method.name)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._servicewire_call(Invocation(method, args, kwargs))

    functools.update_wrapper(call, original)
    # update_wrapper copies __isabstractmethod__ from the interface's abstract method.
    call.__isabstractmethod__ = False  # type: ignore[attr-defined]
    call.__signature__ = method.signature  # type: ignore[attr-defined]
    return call
