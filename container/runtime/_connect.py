"""Service clients for plain scripts: a working proxy from a config mapping in one line.

Scripts have no application container to own what servicewire opens, so a :class:`Runtime`
keeps one manager per configuration: every :class:`ServiceClient` and every :func:`connect`
with an equal configuration and the same runtime share one ServiceManager (its connections,
registry and watcher threads). A ServiceClient releases its share when closed; the manager
closes with its last user, and whatever :func:`connect` opened closes at exit. Calling
``connect`` a thousand times opens one manager, not a thousand.

Both take ``runtime=``; without it they use the process's default runtime,
:func:`default_runtime`, as requests' module-level functions use a session of their own. Pass
your own to keep a script's clients (and the plugins registered for them) apart.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from dependency_injector import providers

from ._manager import ServiceManager, ServiceType
from ._runtime import Runtime
from ._service_container import ServiceContainer

T = TypeVar("T")

_DEFAULT = Runtime()
"""The runtime of scripts that name none (see :func:`default_runtime`)."""


def default_runtime() -> Runtime:
    """Return the process's default runtime: the one :func:`connect` and ServiceClient use by default.

    It is an ordinary :class:`Runtime`, made when servicewire is imported; what
    :func:`connect` opens in it is closed at exit.
    """
    return _DEFAULT


def _maker(runtime: Runtime) -> Callable[[Mapping[str, Any]], tuple[Any, ServiceManager]]:
    def make(config: Mapping[str, Any]) -> tuple[Any, ServiceManager]:
        container = ServiceContainer(config=providers.Object(dict(config)), runtime=providers.Object(runtime))
        return container, container.service_manager()

    return make


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
        runtime: the runtime whose managers, plugins and in-process addresses are used
            (default: :func:`default_runtime`).

    Raises:
        ConfigurationException: the configuration does not validate.
    """

    def __init__(self, config: Mapping[str, Any], runtime: Runtime | None = None) -> None:
        self.runtime = runtime if runtime is not None else _DEFAULT
        self._key, self.container, manager = self.runtime.clients.acquire(config, _maker(self.runtime))
        self.manager: ServiceManager = manager
        self._closed = False

    def get_service(self, service_type: ServiceType[T], preferred_channel: str = "") -> T:
        """Return a proxy of a service interface."""
        return self.manager.get_service(service_type, preferred_channel)

    def close(self) -> None:
        """Release this client's share; the manager closes with its last user."""
        if self._closed:
            return
        self._closed = True
        self.runtime.clients.release(self._key)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    service_type: ServiceType[T],
    config: Mapping[str, Any],
    preferred_channel: str = "",
    runtime: Runtime | None = None,
) -> T:
    """Return a proxy of a service from a config mapping; what it opens is closed at exit.

    Example::

        hello = connect(HelloService, {"registry": {"type": "static", "components": {
            "hello-component": {"dispatch-msgpack": ["http://127.0.0.1:8000"]}}}})
        print(hello.hello("world"))

    Every ``connect`` with an equal configuration and the same runtime shares one manager.

    Args:
        service_type: the ``@service`` interface.
        config: the servicewire configuration mapping.
        preferred_channel: the channel to use ("" takes the first the registry offers).
        runtime: the runtime whose managers, plugins and in-process addresses are used
            (default: :func:`default_runtime`; its managers are closed at exit, another
            runtime's when you call ``runtime.close()``).

    Returns:
        A proxy of the service.

    Raises:
        ConfigurationException: the configuration does not validate.
    """
    runtime = runtime if runtime is not None else _DEFAULT
    manager = runtime.clients.connect(config, _maker(runtime))
    return manager.get_service(service_type, preferred_channel)


@atexit.register
def close_connections() -> None:
    """Release what :func:`connect` opened in the default runtime (runs at exit; safe to call earlier)."""
    _DEFAULT.close()
