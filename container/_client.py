"""Service clients for plain scripts: a working proxy from a config mapping in one line."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

from dependency_injector import providers

from ._manager import ServiceManager, ServiceType
from ._service_container import ServiceContainer

T = TypeVar("T")

_open_clients: list[ServiceClient] = []
_open_lock = threading.Lock()


class ServiceClient:
    """A ServiceContainer built from a config mapping, for scripts that only call services.

    Use it as a context manager, or let the interpreter close it at exit::

        with ServiceClient({"registry": {...}}) as client:
            hello = client.get_service(HelloService)
            print(hello.hello("world"))

    Closing releases connections and stops registry watcher threads.

    Args:
        config: the servicewire configuration mapping (``registry`` section and channel
            settings).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.container = ServiceContainer(config=providers.Object(dict(config)))
        self.manager: ServiceManager = self.container.service_manager()
        self._closed = False
        with _open_lock:
            _open_clients.append(self)

    def get_service(self, service_type: ServiceType[T], preferred_channel: str = "") -> T:
        """Return a proxy (or the local implementation) of a service interface."""
        return self.manager.get_service(service_type, preferred_channel)

    def close(self) -> None:
        """Close channels and the registry; the client's proxies stop working."""
        if self._closed:
            return
        self._closed = True
        self.manager.close()
        with _open_lock:
            if self in _open_clients:
                _open_clients.remove(self)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(service_type: ServiceType[T], config: Mapping[str, Any], preferred_channel: str = "") -> T:
    """Return a proxy of a service from a config mapping; everything is closed at exit.

    Example::

        hello = connect(HelloService, {"registry": {"type": "static", "components": {
            "hello-component": {"dispatch-msgpack": ["http://127.0.0.1:8000"]}}}})
        print(hello.hello("world"))

    Args:
        service_type: the ``@service`` interface.
        config: the servicewire configuration mapping.
        preferred_channel: the channel to use ("" takes the first the registry offers).

    Returns:
        A proxy of the service (or its implementation, when hosted in this process).
    """
    return ServiceClient(config).get_service(service_type, preferred_channel)


@atexit.register
def _close_open_clients() -> None:
    with _open_lock:
        clients = list(_open_clients)
    for client in clients:
        client.close()
