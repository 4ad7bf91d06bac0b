"""The abstract Server: boots a main container, hosts its components, shuts down in order."""

from __future__ import annotations

import logging
import socket
from abc import ABC, abstractmethod
from typing import Any

from ._manager import ServiceManager
from ._service_container import find_service_manager_provider

logger = logging.getLogger("servicewire")


class Server(ABC):
    """Hosts the components of a main container.

    :meth:`boot` creates the container, starts listening (so the bound port is known), starts
    the ServiceManager (component ``startup()``, channel server sides, registration).
    :meth:`shutdown` reverses it: deregister first, let in-flight calls finish (bounded wait),
    stop the components, stop listening. A concrete server implements the listening part;
    ``channels.http.HttpServer`` is the built-in one.

    Args:
        host: the interface to listen on.
        port: the port to listen on; 0 picks a free one (see :attr:`port` after boot).

    Attributes:
        host: the listening interface.
        port: the bound port once listening.
        container: the booted main container, or None.
        manager: the booted ServiceManager, or None.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.container: Any = None
        self.manager: ServiceManager | None = None

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
        self.start_listening()
        try:
            manager.startup(self, self.port)
        except BaseException:
            self.stop_listening()
            raise
        logger.info("server %s listening on %s:%s", type(self).__name__, self.host, self.port)
        return container

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop gracefully: deregister, drain in-flight calls (up to ``timeout``), stop.

        Args:
            timeout: seconds to wait for calls in flight before stopping anyway.
        """
        manager = self.manager
        if manager is None:
            return
        self.manager = None
        manager.deregister()
        if not self.drain(timeout):
            logger.warning("calls still in flight after %ss; stopping anyway", timeout)
        manager.stop_components()
        for channel_name in sorted(manager.served_channels):
            manager.channel_manager.get_class(channel_name).stop_server(self)
        self.stop_listening()
        manager.close()

    @abstractmethod
    def start_listening(self) -> None:
        """Bind and start serving in the background; set :attr:`port` to the bound port."""

    @abstractmethod
    def stop_listening(self) -> None:
        """Stop serving and release the port."""

    def drain(self, timeout: float) -> bool:
        """Wait until no call is in flight; return False when ``timeout`` ran out first."""
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
