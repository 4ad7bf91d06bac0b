"""Service clients for plain scripts: a working proxy from a config mapping in one line.

Scripts have no application container to own what servicewire opens, so one is kept per
configuration: every :class:`ServiceClient` and every :func:`connect` with an equal
configuration share one ServiceManager (its connections, registry and watcher threads). A
ServiceClient releases its share when closed; the manager closes with its last user, and
whatever :func:`connect` opened closes at exit. Calling ``connect`` a thousand times opens
one manager, not a thousand.
"""

from __future__ import annotations

import atexit
import json
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

from dependency_injector import providers

from ._manager import ServiceManager, ServiceType
from ._service_container import ServiceContainer

T = TypeVar("T")


class _Shared:
    """One configuration's container and manager, and how many clients use them."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.container = ServiceContainer(config=providers.Object(dict(config)))
        self.manager: ServiceManager = self.container.service_manager()
        self.users = 0


# Process-wide on purpose: scripts call connect() without a container to hold state, and the
# point of this table is that equal configurations share one manager. Guarded by _lock.
_shared: dict[str, _Shared] = {}
_connected: set[str] = set()
_lock = threading.Lock()


def _key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def _acquire(config: Mapping[str, Any]) -> tuple[str, _Shared]:
    key = _key(config)
    with _lock:
        shared = _shared.get(key)
        if shared is None:
            shared = _Shared(config)  # validates the config: a bad one raises and stores nothing
            _shared[key] = shared
        shared.users += 1
        return key, shared


def _release(key: str) -> None:
    with _lock:
        shared = _shared.get(key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users > 0:
            return
        del _shared[key]
    shared.manager.close()


class ServiceClient:
    """A ServiceManager for a config mapping, for scripts that only call services.

    Use it as a context manager, or close it when done::

        with ServiceClient({"registry": {...}}) as client:
            hello = client.get_service(HelloService)
            print(hello.hello("world"))

    Clients with equal configurations share one manager; closing the last one releases its
    connections and stops its registry watcher threads.

    Args:
        config: the servicewire configuration mapping (``registry`` section and settings).

    Raises:
        ConfigurationException: the configuration does not validate.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._key, shared = _acquire(config)
        self.container = shared.container
        self.manager: ServiceManager = shared.manager
        self._closed = False

    def get_service(self, service_type: ServiceType[T], preferred_channel: str = "") -> T:
        """Return a proxy of a service interface."""
        return self.manager.get_service(service_type, preferred_channel)

    def close(self) -> None:
        """Release this client's share; the manager closes with its last user."""
        if self._closed:
            return
        self._closed = True
        _release(self._key)

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
    """Return a proxy of a service from a config mapping; what it opens is closed at exit.

    Example::

        hello = connect(HelloService, {"registry": {"type": "static", "components": {
            "hello-component": {"dispatch-msgpack": ["http://127.0.0.1:8000"]}}}})
        print(hello.hello("world"))

    Every ``connect`` with an equal configuration shares one manager.

    Args:
        service_type: the ``@service`` interface.
        config: the servicewire configuration mapping.
        preferred_channel: the channel to use ("" takes the first the registry offers).

    Returns:
        A proxy of the service.

    Raises:
        ConfigurationException: the configuration does not validate.
    """
    key = _key(config)
    with _lock:
        shared = _shared.get(key)
        if shared is None:
            shared = _Shared(config)  # validates the config: a bad one raises and stores nothing
            _shared[key] = shared
        if key not in _connected:
            _connected.add(key)
            shared.users += 1
    return shared.manager.get_service(service_type, preferred_channel)


@atexit.register
def close_connections() -> None:
    """Release what :func:`connect` opened (runs at exit; safe to call earlier)."""
    with _lock:
        keys = list(_connected)
        _connected.clear()
    for key in keys:
        _release(key)
