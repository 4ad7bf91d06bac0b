"""The ``local`` channel: calls a dispatcher of the same runtime, without encoding anything.

Its URLs are ``inproc://<id>``, one per listening server (or per ServiceManager that a test
asks for ``proxy(T, "local")``), so several in-process servers behave like several instances:
URL selection, failover, interceptors, deadlines and shutdown work as on a remote channel, and
what an implementation raises arrives as it would over the wire (an application exception as
itself, anything else as :class:`~container.RemoteServiceException`). An ``async def`` method's
implementation runs on the caller's own event loop, in the caller's task: its deadline and
cancellation reach the implementation directly. While a channel has one such URL, the calls of
its ``def`` methods take the direct route: the transport hands the core the dispatcher's
runner of each method (``direct_runner``), which the core calls with each call's context.

The URLs live in the runtime's address space (``settings.runtime.addresses``): a container's
local listeners are reachable from the containers that share its runtime, and from no other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from container import Channel, ChannelAddress, ServiceUnavailableException
from container.plugin import (
    AddressSpace,
    Dispatcher,
    InProcessTransport,
    Invocation,
    Listener,
    MethodDescriptor,
    Settings,
    URLShape,
)

SCHEME = "inproc"


def _addresses(settings: Settings) -> AddressSpace:
    """The address space of the settings' runtime; settings made outside one get a space of their own."""
    runtime = settings.runtime
    return runtime.addresses if runtime is not None else AddressSpace()


class LocalTransport(InProcessTransport):
    """Hands each call to the dispatcher listening at its ``inproc://`` URL in this runtime."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._lookup = settings.runtime.addresses.lookup

    def call(self, url: str, invocation: Invocation) -> Any:
        """Run the call at ``url``'s dispatcher.

        Raises:
            ServiceUnavailableException: nothing of this runtime listens at ``url`` (nothing ran).
        """
        dispatcher = self._lookup(url)
        if dispatcher is None:
            raise ServiceUnavailableException(f"nothing in this runtime listens at {url}", url)
        return dispatcher.call_local(invocation, url)

    async def call_async(self, url: str, invocation: Invocation) -> Any:
        """Run a call of an ``async def`` method at ``url``'s dispatcher, on the caller's event loop.

        Raises:
            ServiceUnavailableException: nothing of this runtime listens at ``url`` (nothing ran).
        """
        dispatcher = self._lookup(url)
        if dispatcher is None:
            raise ServiceUnavailableException(f"nothing in this runtime listens at {url}", url)
        return await dispatcher.call_local_async(invocation, url)

    def direct_runner(self, url: str, method: MethodDescriptor) -> Callable[..., Any] | None:
        """Return the runner of ``method`` at ``url``'s dispatcher (None: nothing listens there).

        The core calls it directly while ``url`` is its channel's only choice; the listener
        stops it when it stops being reachable (:meth:`LocalListener.stop_accepting`).
        """
        dispatcher: Dispatcher | None = self._lookup(url)
        if dispatcher is None:
            return None
        return dispatcher.local_runner(method, url)


class LocalListener(Listener):
    """Makes a server's dispatcher reachable at an ``inproc://`` URL of its runtime."""

    def __init__(self, dispatcher: Dispatcher, settings: Settings) -> None:
        super().__init__(dispatcher, settings)
        self._addresses = settings.runtime.addresses
        self._url = ""

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Listen (once) and return the ``inproc://`` URL, whatever ``address`` said."""
        if not self._url:
            self._url = self._addresses.bind(self.dispatcher, SCHEME)
        return ChannelAddress(LocalChannel.name, self._url)

    def stop_accepting(self) -> None:
        """Stop being reachable: new calls to the URL fail over to other instances."""
        self._addresses.unbind(self._url)
        if self._url:
            self.dispatcher.stop_local_runners(self._url)

    def close(self) -> None:
        """Stop being reachable (idempotent)."""
        self.stop_accepting()


class LocalChannel(Channel):
    """The in-process channel."""

    name = "local"
    codec = None
    schemes = (SCHEME,)
    url_shapes = (URLShape.OPAQUE,)  # inproc://<id>: a name of this runtime's address space
    transport = LocalTransport
    listener = LocalListener
