"""Proxy classes generated per service interface.

A proxy class subclasses the interface and defines every public method with the interface's
own signature, docstring and annotations, so ``isinstance``, ``inspect.signature``, ``help()``
and editors see the interface. Each method runs its method's compiled plan on the proxy's
target: ``plans[method].call(args, kwargs)``; an ``async def`` method of the interface is an
``async def`` of the proxy, which awaits ``plans[method].call_async(args, kwargs)``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..config._runtime import shared_workers
from ..config._workers import Workers
from ._aio import in_thread
from ._calls import Invocation
from ._context import new_client_context

if TYPE_CHECKING:
    from ..declarations._descriptors import MethodDescriptor, ServiceDescriptor


class MethodRunner(Protocol):
    """Runs the calls of one method: what a proxy needs of a compiled plan."""

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one call with these arguments and return its result."""

    async def call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one call of an ``async def`` method and return its result."""

    def chain(self, invocation: Invocation) -> Any:
        """Run one call whose Invocation (with its context) is made (an awaitable for an async method)."""


class CallTarget(Protocol):
    """Where a proxy's calls go: what a proxy needs of a channel (``Channel`` is one).

    The call layer names this protocol, so that it sits below the channel that implements it.
    """

    @property
    def name(self) -> str:
        """The channel name, for the proxy's repr."""

    @property
    def plans(self) -> Mapping[Any, MethodRunner]:
        """The compiled plan of each method."""


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

    Its :attr:`plans` are the chosen channel's once a call chose it; until then, asking for a
    method's plan gives one that chooses the channel first (waiting, up to the call's deadline,
    for an address to appear).

    Args:
        resolve: returns the channel; called with the first call's deadline (None: without
            waiting, when the channel is asked for outside a call).
        timeout_of: a method's default timeout, for the first call's context.
        workers: where an async first call waits for the channel (it may wait for a registry),
            so that its event loop does not; None: the process's shared workers.
    """

    __slots__ = ("_channel", "_lock", "_resolve", "_timeout_of", "plans", "workers")

    def __init__(
        self,
        resolve: Callable[[float | None], CallTarget],
        timeout_of: Callable[[MethodDescriptor], float | None],
        workers: Workers | None = None,
    ) -> None:
        self._resolve = resolve
        self._timeout_of = timeout_of
        self.workers = workers if workers is not None else shared_workers()
        self._channel: CallTarget | None = None
        self._lock = threading.Lock()
        self.plans: dict[Any, MethodRunner] = _Unresolved(self)

    @property
    def resolved(self) -> CallTarget | None:
        """The channel once chosen, else None."""
        return self._channel

    def channel(self, deadline: float | None = None) -> CallTarget:
        """Return the channel, choosing it now if no call did yet."""
        channel = self._channel
        if channel is None:
            channel = self._resolve(deadline)
            with self._lock:
                self._channel = channel
                self.plans.update(channel.plans)  # from now on, calls find the channel's plans
        return channel


class _Unresolved(dict):  # type: ignore[type-arg]
    """The plans of a binding: a method not found yet is run by choosing the channel first."""

    __slots__ = ("_binding",)

    def __init__(self, binding: Binding) -> None:
        super().__init__()
        self._binding = binding

    def __missing__(self, method: Any) -> MethodRunner:
        return _FirstCall(self._binding, method)


class _FirstCall:
    """The first call of a method through a binding: choose the channel, then run its plan."""

    __slots__ = ("_binding", "_method")

    def __init__(self, binding: Binding, method: MethodDescriptor) -> None:
        self._binding = binding
        self._method = method

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.chain(
            Invocation(
                self._method, args, kwargs, new_client_context(self._binding._timeout_of(self._method))
            )
        )

    def chain(self, invocation: Invocation) -> Any:
        channel = self._binding.channel(invocation.context.deadline)
        return channel.plans[self._method].chain(invocation)

    async def call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        binding = self._binding
        context = new_client_context(binding._timeout_of(self._method))
        invocation = Invocation(self._method, args, kwargs, context)
        channel = binding.resolved
        if channel is None:  # asking the registry blocks: not on the caller's loop
            channel = await in_thread(binding.workers.pool, binding.channel, context.deadline)
        return await channel.plans[self._method].chain(invocation)


def make_proxy(
    descriptor: ServiceDescriptor[Any], target: CallTarget | Binding, workers: Workers | None = None
) -> Any:
    """Return a proxy of the service whose calls go through ``target``.

    ``workers`` are those of the runtime the proxy belongs to (its bridges between sync and
    async code run there; a binding brings its own).
    """
    proxy: Any = object.__new__(proxy_class(descriptor))
    proxy._servicewire_plans = target.plans
    if isinstance(target, Binding):
        proxy._servicewire_binding = target
        workers = target.workers
    else:
        proxy._servicewire_channel = target
    proxy._servicewire_workers = workers if workers is not None else shared_workers()
    return proxy


def workers_of_proxy(proxy: Any) -> Workers | None:
    """Return the workers of the runtime a proxy belongs to; None for anything that is no proxy."""
    if not getattr(type(proxy), "__servicewire_proxy__", False):
        return None
    found = getattr(proxy, "_servicewire_workers", None)
    return found if isinstance(found, Workers) else None


def target_of(proxy: Any) -> CallTarget:
    """Return what a proxy's calls go through, choosing it now if no call did yet.

    Raises:
        TypeError: ``proxy`` is not a proxy (for example, the local implementation itself).
        NoAddressException: the proxy made no call yet and the registry knows no address.
    """
    if not getattr(type(proxy), "__servicewire_proxy__", False):
        raise TypeError(f"{proxy!r} is not a servicewire proxy, so it has no channel")
    # getattr, not vars(proxy): asking CPython for an object's __dict__ makes every later
    # attribute read of that object slower (10 ns of each call of the proxy's methods).
    target = getattr(proxy, "_servicewire_channel", None)
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
    channel = getattr(self, "_servicewire_channel", None)
    if channel is None:
        channel = self._servicewire_binding.resolved
    via = repr(channel.name) if channel is not None else "a channel chosen on the first call"
    return f"<{type(self).__name__} via {via}>"


def _method(method: MethodDescriptor) -> Any:
    original = getattr(method.service.type, method.name)

    async def call_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._servicewire_plans[method].call_async(args, kwargs)

    def call_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self._servicewire_plans[method].call(args, kwargs)

    call: Any = call_async if method.is_async else call_sync
    functools.update_wrapper(call, original)
    # update_wrapper copies __isabstractmethod__ from the interface's abstract method.
    call.__isabstractmethod__ = False
    call.__signature__ = method.signature
    return call
