"""The abstract Server: boots a main container, hosts its components, shuts down in order."""

from __future__ import annotations

import logging
import socket
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from ..call._dispatcher import Dispatcher
from ..call._transport import Listener
from ..client._channel import Channel
from ..client._first_contract import FirstContractListener, uses_first_contract_server
from ..values._values import ChannelAddress
from ._manager import ServiceManager
from ._service_container import find_service_manager_provider

if TYPE_CHECKING:
    from ..declarations._descriptors import ComponentDescriptor

logger = logging.getLogger("servicewire")


class Server(ABC):
    """Hosts the components of a main container.

    :meth:`boot` creates the container, the dispatcher of its hosted components, starts the
    server's own listening (so the bound port is known), then starts each component, lets a
    listener of each channel it advertises listen, and registers the addresses. A failed boot
    undoes what it started. :meth:`shutdown` reverses it in this order: stop accepting on every
    listener (new calls on open connections are answered 503, so callers try elsewhere),
    deregister, wait for the calls in flight and let every listener drain (bounded), stop the
    components, close the listeners, close the manager.

    A concrete server implements its own listening (:meth:`start_listening`,
    :meth:`stop_listening`, and optionally :meth:`stop_accepting` and :meth:`drain`);
    ``channels.http.HttpServer`` is the built-in one, :class:`ListenerlessServer` has none.

    Args:
        host: the interface to listen on.
        port: the port to listen on; 0 picks a free one (see :attr:`port` after boot).
        debug: append tracebacks to the messages of 500 answers.

    Attributes:
        host: the listening interface.
        port: the bound port once listening.
        container: the booted main container, or None.
        manager: the booted ServiceManager, or None.
        dispatcher: the dispatcher every listener of this server hands calls to, or None.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, debug: bool = False) -> None:
        self.host = host
        self.port = port
        self.debug = debug
        self.container: Any = None
        self.manager: ServiceManager | None = None
        self.dispatcher: Dispatcher | None = None
        self._listeners: dict[type[Channel], Listener] = {}
        self._listening = False

    def boot(self, main_container: Any, **overriding_providers: Any) -> Any:
        """Create the main container, start listening and start its components.

        Args:
            main_container: a DeclarativeContainer class (instantiated here with
                ``overriding_providers``) or an already created container.
            **overriding_providers: passed to the container class.

        Returns:
            The container instance.
        """
        container = (
            main_container(**overriding_providers) if isinstance(main_container, type) else main_container
        )
        manager: ServiceManager = find_service_manager_provider(container)()
        manager.attach_container(container)
        self.container = container
        self.manager = manager
        try:
            self.dispatcher = manager.create_dispatcher(debug=self.debug)
            self.start_listening()
            self._listening = True
            manager.startup(self, self.port)
        except BaseException:
            self._undo_boot()
            raise
        logger.info("server %s listening on %s:%s", type(self).__name__, self.host, self.port)
        return container

    def _undo_boot(self) -> None:
        manager = self.manager
        self.manager = None
        self._stop_accepting_everywhere()
        if manager is not None:
            manager.deregister()
            manager.stop_components()
        self._close_listeners()
        if manager is not None:
            manager.close()
        if self.dispatcher is not None:
            self.dispatcher.close()

    def listen_on(self, component: ComponentDescriptor[Any], address: ChannelAddress) -> ChannelAddress:
        """Make sure something listens for ``address`` and return the address to register.

        A channel with a listener class gets one listener per server (created on the first
        address); any other channel (the HTTP ones) is served by this server's own listening.
        """
        assert self.manager is not None
        channel_class = self.manager.channel_manager.get_class(address.channel)
        listener = self._listeners.get(channel_class)
        if listener is None:
            listener = self._new_listener(channel_class)
            if listener is None:
                return self.own_address(address)
            self._listeners[channel_class] = listener
        return listener.listen_for(component, address)

    def _new_listener(self, channel_class: type[Channel]) -> Listener | None:
        assert self.manager is not None and self.dispatcher is not None
        if channel_class.listener is not None:
            return channel_class.listener(self.dispatcher, self.manager.settings)
        if uses_first_contract_server(channel_class):  # the one adapter of the first contract
            return FirstContractListener(channel_class, self, self.dispatcher, self.manager.settings)
        return None

    def own_address(self, address: ChannelAddress) -> ChannelAddress:
        """Return the address to register for a channel this server serves itself.

        The default returns it unchanged; a server may correct what it knows better (the HTTP
        server with TLS on registers ``https://`` for an address given as ``http://``).
        """
        return address

    def withdraw(self) -> None:
        """Deregister the components now and keep serving: callers stop choosing this server.

        The first step of a shutdown that something else drives (a WSGI server stopping a
        worker gracefully); :meth:`shutdown` later does the rest.
        """
        if self.manager is not None:
            self.manager.deregister()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop gracefully: stop accepting, deregister, drain (up to ``timeout``), stop, close.

        Args:
            timeout: seconds to wait for calls in flight before stopping anyway.
        """
        manager = self.manager
        if manager is None:
            return
        self.manager = None
        deadline = time.monotonic() + timeout
        self._stop_accepting_everywhere()
        manager.deregister()
        drained = self.dispatcher.wait_idle(timeout) if self.dispatcher is not None else True
        drained = self.drain(max(0.0, deadline - time.monotonic())) and drained
        for listener in self._listeners.values():
            drained = listener.drain(max(0.0, deadline - time.monotonic())) and drained
        if not drained:
            logger.warning("calls still in flight after %ss; stopping anyway", timeout)
        manager.stop_components()
        self._close_listeners()
        manager.close()
        if self.dispatcher is not None:
            self.dispatcher.close()

    def _stop_accepting_everywhere(self) -> None:
        if self._listening:
            self.stop_accepting()
        for listener in self._listeners.values():
            listener.stop_accepting()
        if self.dispatcher is not None:
            self.dispatcher.stop_taking_calls()

    def _close_listeners(self) -> None:
        for listener in self._listeners.values():
            try:
                listener.close()
            except Exception:  # closing goes on for the others
                logger.exception("closing the %s listener failed", type(listener).__name__)
        self._listeners.clear()
        if self._listening:
            self._listening = False
            self.stop_listening()

    @abstractmethod
    def start_listening(self) -> None:
        """Bind and start serving in the background; set :attr:`port` to the bound port."""

    @abstractmethod
    def stop_listening(self) -> None:
        """Stop serving and release the port (called last)."""

    def stop_accepting(self) -> None:
        """Stop accepting new connections on the server's own listening (first shutdown step)."""

    def drain(self, timeout: float) -> bool:
        """Wait until the answers of the server's own listening are sent; False on timeout."""
        return True

    @staticmethod
    def get_local_ip() -> str:
        """Return this host's address as others would reach it; 127.0.0.1 when unknown.

        It only resolves the host name, so it never sends a packet and needs no internet.
        """
        try:
            address = socket.gethostbyname(socket.gethostname())
        except OSError:
            return "127.0.0.1"
        return address or "127.0.0.1"


class ListenerlessServer(Server):
    """A Server that listens on nothing itself: for channels whose listeners are their own.

    The tcp-msgpack sample and the ``local`` channel serve through listeners of their own, so
    a process that hosts components only on such channels boots with this server.
    """

    def start_listening(self) -> None:
        """Nothing to do."""

    def stop_listening(self) -> None:
        """Nothing to do."""
