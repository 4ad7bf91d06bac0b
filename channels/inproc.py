"""The ``local`` channel: calls a dispatcher of this process, without encoding anything.

Its URLs are ``inproc://<id>``, one per listening server (or per ServiceManager that a test
asks for ``proxy(T, "local")``), so several in-process servers behave like several instances:
URL selection, failover, interceptors, deadlines and shutdown work as on a remote channel, and
what an implementation raises arrives as it would over the wire (an application exception as
itself, anything else as :class:`~container.RemoteServiceException`).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from container import Channel, ChannelAddress, ServiceUnavailableException
from container.plugin import Dispatcher, InProcessTransport, Invocation, Listener, URLShape

SCHEME = "inproc"

# The dispatchers listening in this process, by URL. Process-wide on purpose: it is this
# process's in-process "network", as the kernel's port table is for TCP. Listeners add and
# remove their own entries; nothing else writes here.
_listening: dict[str, Dispatcher] = {}
_lock = threading.Lock()


class LocalTransport(InProcessTransport):
    """Hands each call to the dispatcher listening at its ``inproc://`` URL."""

    def call(self, url: str, invocation: Invocation) -> Any:
        """Run the call at ``url``'s dispatcher.

        Raises:
            ServiceUnavailableException: nothing of this process listens at ``url`` (nothing ran).
        """
        dispatcher = _listening.get(url)
        if dispatcher is None:
            raise ServiceUnavailableException(f"nothing in this process listens at {url}", url)
        return dispatcher.call_local(invocation)


class LocalListener(Listener):
    """Makes a server's dispatcher reachable at an ``inproc://`` URL of its own."""

    _url = ""

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Listen (once) and return the ``inproc://`` URL, whatever ``address`` said."""
        with _lock:
            if not self._url:
                self._url = f"{SCHEME}://{uuid.uuid4().hex}"
                _listening[self._url] = self.dispatcher
        return ChannelAddress(LocalChannel.name, self._url)

    def stop_accepting(self) -> None:
        """Stop being reachable: new calls to the URL fail over to other instances."""
        with _lock:
            _listening.pop(self._url, None)

    def close(self) -> None:
        """Stop being reachable (idempotent)."""
        self.stop_accepting()


class LocalChannel(Channel):
    """The in-process channel."""

    name = "local"
    codec = None
    schemes = (SCHEME,)
    url_shapes = (URLShape.OPAQUE,)  # inproc://<id>: a name of this process's address space
    transport = LocalTransport
    listener = LocalListener
