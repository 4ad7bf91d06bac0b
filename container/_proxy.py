"""Proxy classes generated per service interface.

A proxy class subclasses the interface and defines every public method with the interface's
own signature, docstring and annotations, so ``isinstance``, ``inspect.signature``, ``help()``
and editors see the interface. Each method hands an :class:`Invocation` to the channel.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from ._calls import Invocation

if TYPE_CHECKING:
    from ._channel import Channel
    from ._descriptors import MethodDescriptor, ServiceDescriptor

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


def make_proxy(descriptor: ServiceDescriptor[Any], channel: Channel) -> Any:
    """Return a proxy of the service that sends every call through ``channel``."""
    proxy: Any = object.__new__(proxy_class(descriptor))
    proxy._servicewire_call = channel.call
    proxy._servicewire_channel = channel
    return proxy


def channel_of(proxy: Any) -> Channel:
    """Return the channel behind a proxy (its URLs, its selector, ``select_first_url()``).

    Raises:
        TypeError: ``proxy`` is not a proxy (for example, the local implementation itself).
    """
    if not getattr(type(proxy), "__servicewire_proxy__", False):
        raise TypeError(f"{proxy!r} is not a servicewire proxy, so it has no channel")
    return proxy._servicewire_channel  # type: ignore[no-any-return]


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
    channel = self._servicewire_channel
    return f"<{type(self).__name__} via {channel.name!r}>"


def _method(method: MethodDescriptor) -> Any:
    original = getattr(method.service.type, method.name)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._servicewire_call(Invocation(method, args, kwargs))

    functools.update_wrapper(call, original)
    # update_wrapper copies __isabstractmethod__ from the interface's abstract method.
    call.__isabstractmethod__ = False  # type: ignore[attr-defined]
    call.__signature__ = method.signature  # type: ignore[attr-defined]
    return call
