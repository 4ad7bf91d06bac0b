"""The ServiceManager: resolves a service interface to its implementation or a proxy."""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from dependency_injector import providers

from ._channel import Channel, selector_by_name
from ._channel_manager import ChannelManager
from ._descriptors import CATALOG, ComponentDescriptor, ServiceDescriptor
from ._errors import NoAddressException, ServiceNotFoundException
from ._proxy import make_proxy
from ._registry import ComponentRegistry
from ._values import ChannelInstances

if TYPE_CHECKING:
    from ._component import Component
    from ._server import Server

T = TypeVar("T")

# Callable[..., T] rather than type[T]: mypy refuses abstract classes where type[T] is expected,
# and every service interface is abstract. At run time a non-class is refused with a clear error.
ServiceType = Callable[..., T]

LOCAL = "local"
LOCAL_SCHEME = "inproc://"

logger = logging.getLogger("servicewire")


class ServiceManager:
    """Resolves service interfaces to local implementations or remote proxies.

    ``get_service`` returns the implementation itself when this process hosts the service and
    the preferred channel is ``"local"`` or empty; otherwise it asks the registry for the
    component's addresses, builds the channel through the :class:`ChannelManager`, lets the
    registry watch it and returns a proxy. Results are cached per (type, channel), so a second
    call costs a dictionary look-up.

    Args:
        component_registry: where component addresses are registered and looked up.
        channel_manager: creates channels by name.
        config: the whole servicewire configuration mapping (channel settings live here).
        container: the :class:`ServiceContainer` instance this manager belongs to; its parent
            application container is searched for providers of implementation classes.
    """

    _live: weakref.WeakValueDictionary[str, ServiceManager] = weakref.WeakValueDictionary()

    def __init__(
        self,
        component_registry: ComponentRegistry,
        channel_manager: ChannelManager,
        config: Mapping[str, Any] | None = None,
        container: Any = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        ServiceManager._live[self.id] = self
        self.component_registry = component_registry
        self.channel_manager = channel_manager
        self.config: Mapping[str, Any] = config or {}
        self.preferred_channel = ""
        self._container = container
        self._services: dict[tuple[Any, str], Any] = {}
        self._channels: dict[tuple[type, str], Channel] = {}
        self._instances: dict[type, Any] = {}
        self._started: list[ComponentDescriptor[Any]] = []
        self.served_channels: set[str] = set()
        self._lock = threading.RLock()
        self._closed = False

    # resolution

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def local_uri(self) -> str:
        """The URL of this manager for the ``local`` channel: ``inproc://<id>``."""
        return LOCAL_SCHEME + self.id

    @classmethod
    def find(cls, uri: str) -> ServiceManager | None:
        """Return the open manager of this process that a ``local`` channel URL names, or None."""
        if not uri.startswith(LOCAL_SCHEME):
            return None
        return cls._live.get(uri[len(LOCAL_SCHEME) :])

    def set_preferred_channel(self, preferred_channel: str) -> None:
        """Set the channel used when ``get_service`` is called without one."""
        with self._lock:
            self.preferred_channel = preferred_channel
            self._services.clear()

    def get_service(self, service_type: ServiceType[T], preferred_channel: str = "") -> T:
        """Return the implementation or a proxy of a service interface.

        Args:
            service_type: a ``@service`` interface listed by a ``@component``.
            preferred_channel: the channel to use; the manager's preferred channel when empty,
                and the first channel the registry offers when that is not offered either.

        Returns:
            The local implementation (hosted here, channel ``"local"`` or empty) or a proxy.

        Raises:
            ServiceNotFoundException: ``service_type`` is not a registered service.
            NoAddressException: the registry knows no address of the component.
            UnknownChannelException: the chosen channel has no plugin.
        """
        found = self._services.get((service_type, preferred_channel))
        if found is not None:
            return cast(T, found)
        return self._resolve(service_type, preferred_channel)

    def proxy(self, service_type: ServiceType[T], channel: str) -> T:
        """Return a proxy through the named channel, even when the service is hosted here.

        The URLs are the registry's for that channel; for ``"local"`` without any, this
        manager's own. Useful in tests, to call a hosted service exactly as a remote caller
        would.
        """
        descriptor = self._service_descriptor(service_type)
        component = descriptor.component_descriptor
        offered = [a for a in self.component_registry.get_addresses(component) if a.channel == channel]
        if offered:
            address = offered[0]
        elif channel == LOCAL:
            address = ChannelInstances(component.name, LOCAL, [self.local_uri])
        else:
            address = self._find_address(component, channel)
        return cast(T, make_proxy(descriptor, self._channel(component, address)))

    def _resolve(self, service_type: ServiceType[T], preferred_channel: str) -> T:
        descriptor = self._service_descriptor(service_type)
        component = descriptor.component_descriptor
        wanted = preferred_channel or self.preferred_channel
        with self._lock:
            if descriptor.is_local() and wanted in ("", LOCAL):
                result: Any = self.get_instance(cast(type, descriptor.implementation))
            else:
                address = self._find_address(component, wanted)
                if address.channel == LOCAL and descriptor.is_local():
                    result = self.get_instance(cast(type, descriptor.implementation))
                else:
                    result = make_proxy(descriptor, self._channel(component, address))
            self._services[(service_type, preferred_channel)] = result
            return cast(T, result)

    def _service_descriptor(self, service_type: Any) -> ServiceDescriptor[Any]:
        descriptor = CATALOG.get(service_type)
        if isinstance(descriptor, ComponentDescriptor):
            names = ", ".join(s.type.__qualname__ for s in descriptor.services)
            raise ServiceNotFoundException(
                f"{service_type.__qualname__} is a component; ask for one of its services: {names}",
                service_type,
            )
        return cast(ServiceDescriptor[Any], descriptor)

    def _find_address(self, component: ComponentDescriptor[Any], wanted: str) -> ChannelInstances:
        addresses = self.component_registry.get_addresses(component)
        for address in addresses:
            if address.channel == wanted:
                return address
        if addresses and wanted in ("", LOCAL):
            return addresses[0]
        offered = ", ".join(a.channel for a in addresses) or "none"
        registry = type(self.component_registry).__name__
        if wanted:
            raise NoAddressException(
                f"component {component.name!r} is not offered on channel {wanted!r} by "
                f"{registry}; channels offered: {offered}"
            )
        raise NoAddressException(
            f"no address of component {component.name!r} is known to {registry} and it is "
            "not hosted in this process"
        )

    def _channel(self, component: ComponentDescriptor[Any], address: ChannelInstances) -> Channel:
        key = (component.type, address.channel)
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                channel = self.channel_manager.make(address.channel, component, address, self)
                self._configure_selector(channel, component)
                self._channels[key] = channel
                self.component_registry.watch(channel)
            return channel

    def _configure_selector(self, channel: Channel, component: ComponentDescriptor[Any]) -> None:
        settings = self.component_settings(component.name)
        name = settings.get("selector")
        if name is None:
            return
        channel.url_selector = selector_by_name(name, f"components.{component.name}.selector")

    def component_settings(self, component: str) -> Mapping[str, Any]:
        """Return the config section ``components.<component>`` (empty when absent)."""
        components = self.config.get("components") or {}
        return cast(Mapping[str, Any], components.get(component) or {})

    # local implementations

    def get_instance(self, implementation: type[T]) -> T:
        """Return this manager's instance of an implementation class, creating it once.

        The instance comes from a provider of the class in the application container when
        there is one (so its dependencies are injected), else from the no-argument constructor.
        """
        instance = self._instances.get(implementation)
        if instance is None:
            with self._lock:
                instance = self._instances.get(implementation)
                if instance is None:
                    instance = self._create(implementation)
                    self._instances[implementation] = instance
        return cast(T, instance)

    def _create(self, implementation: type) -> Any:
        application = _application_container(self._container)
        if application is not None:
            for provider in application.traverse():
                if getattr(provider, "provides", None) is implementation and isinstance(
                    provider, (providers.Singleton, providers.Factory)
                ):
                    return provider()
        return implementation()

    def attach_container(self, application: Any) -> None:
        """Use ``application`` to create local implementations (when found by other means)."""
        if self._container is None:
            self._container = application

    # lifecycle

    def hosted_components(self) -> list[ComponentDescriptor[Any]]:
        """Return the components whose implementation is present in this process."""
        return [c for c in CATALOG.components if c.is_local()]

    def startup(self, server: Server | None = None, port: int = 0) -> None:
        """Start every hosted component and register its addresses.

        For each component: create the implementation, call ``startup()``, collect
        ``get_addresses(port)``, let each channel plugin prepare its server side, register.

        Args:
            server: the server hosting the components (None: nothing is served).
            port: the port ``get_addresses`` receives (the server's bound port).
        """
        for component in self.hosted_components():
            instance = cast("Component", self.get_instance(cast(type, component.implementation)))
            instance.startup()
            addresses = list(instance.get_addresses(port)) if server is not None else []
            if server is not None:
                addresses = [
                    self.channel_manager.get_class(a.channel).prepare_server(server, component, a)
                    for a in addresses
                ]
                self.served_channels.update(a.channel for a in addresses)
            with self._lock:
                self._started.append(component)
            if addresses:
                self.component_registry.register(component, addresses)
            logger.info("started component %s at %s", component.name, addresses)

    def deregister(self) -> None:
        """Withdraw every started component's addresses from the registry."""
        for component in list(self._started):
            try:
                self.component_registry.deregister(component)
            except Exception:  # shutdown goes on; the registry's TTL removes what is left
                logger.exception("deregistering %s failed", component.name)

    def stop_components(self) -> None:
        """Call ``shutdown()`` on every started component, in reverse start order."""
        with self._lock:
            started, self._started = self._started, []
        for component in reversed(started):
            instance = self._instances.get(cast(type, component.implementation))
            if instance is not None:
                instance.shutdown()

    def shutdown(self) -> None:
        """Deregister and stop every started component (a server calls the steps separately)."""
        self.deregister()
        self.stop_components()

    def close(self) -> None:
        """Shut down, close every channel and the registry; the manager is not used afterwards."""
        if self._closed:
            return
        self._closed = True
        ServiceManager._live.pop(self.id, None)
        self.shutdown()
        with self._lock:
            channels = list(self._channels.values())
            self._channels.clear()
            self._services.clear()
        for channel in channels:
            channel.close()
        self.component_registry.close()

    def report(self) -> str:
        """Return a plain-text report of the hosted components and their services."""
        lines = []
        for component in self.hosted_components():
            status = "running" if component in self._started else "not started"
            lines.append(f"component {component.name} ({component.type.__qualname__}) {status}")
            for service in component.services:
                impl = getattr(service.implementation, "__qualname__", "-")
                lines.append(f"  service {service.name} ({service.type.__qualname__}) -> {impl}")
                for method in service.methods.values():
                    lines.append(f"    {method.name}{method.signature}")
        return "\n".join(lines) + "\n"


def _application_container(service_container: Any) -> Any:
    """Return the application container that includes a ServiceContainer instance, if any."""
    if service_container is None:
        return None
    holder = getattr(service_container, "parent", None)  # the providers.Container provider
    application = getattr(holder, "parent", None)
    if application is not None and hasattr(application, "traverse"):
        return application
    return service_container if hasattr(service_container, "traverse") else None
