"""The ServiceManager: resolves a service interface to its implementation or a proxy."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from ..call._aio import in_thread
from ..call._calls import InterceptorLike, applies_to, load_interceptor
from ..call._dispatcher import WORKERS, Dispatcher
from ..call._proxy import Binding, make_proxy
from ..call._transport import InProcessTransport, Listener, Transport
from ..client._channel import Channel
from ..config._settings import Settings
from ..declarations._descriptors import ComponentDescriptor, ServiceDescriptor, declared_components
from ..discovery._registry import ComponentRegistry
from ..observability import Observability
from ..policies._events import ChannelEvents
from ..policies._selectors import selector_by_name
from ..security._auth import Guard, authenticators_from, credentials_from, method_rules, parse_rule
from ..values._errors import (
    ConfigurationException,
    NoAddressException,
    ServiceCommunicationException,
    ServiceNotFoundException,
    UnknownChannelException,
)
from ..values._redact import redact_credentials
from ..values._values import ChannelAddress, ChannelInstances
from ._channel_manager import ChannelManager
from ._config_checks import check_method_keys, warn_unknown_component, warn_unknown_sections
from ._hosting import Hosting
from ._runtime import Runtime

if TYPE_CHECKING:
    from ..declarations._component import Component


class AddressListener(Protocol):
    """What :meth:`ServiceManager.startup` needs of a server (``container.Server`` is one)."""

    def listen_on(self, component: ComponentDescriptor[Any], address: ChannelAddress) -> ChannelAddress:
        """Make sure something listens for ``address``; return the address to register."""


T = TypeVar("T")

# Callable[..., T] rather than type[T]: mypy refuses abstract classes where type[T] is expected,
# and every service interface is abstract. At run time a non-class is refused with a clear error.
ServiceType = Callable[..., T]

LOCAL = "local"

ADDRESS_POLL = 0.05
"""Seconds between two looks at the registry while a first call waits for an address."""

logger = logging.getLogger("servicewire")


class ServiceManager:
    """Resolves service interfaces to local implementations or remote proxies.

    ``get_service`` returns the implementation itself when this container hosts the service
    and the preferred channel is ``"local"`` or empty. Otherwise it returns a proxy at once,
    without asking the registry: the first call does (and waits up to its deadline for an
    address to appear), so services can boot in any order. Results are cached per (type,
    channel), so a second ``get_service`` costs a dictionary look-up.

    Args:
        component_registry: where component addresses are registered and looked up.
        channel_manager: creates channels by name.
        config: the servicewire configuration: a mapping, or :class:`Settings` already
            validated.
        container: the :class:`ServiceContainer` instance this manager belongs to; the
            application container that includes it decides what is hosted.
        client_interceptors: interceptors of outgoing calls, outermost first (before those
            that config names).
        server_interceptors: interceptors of incoming calls, outermost first.
        runtime: the :class:`Runtime` this manager belongs to (its catalog, plugins and
            in-process addresses); the one of ``config`` when it is :class:`Settings` made
            with one, else a new one.

    Raises:
        ConfigurationException: the configuration does not validate (the key path is named);
            an import path it names does not import; it names an unknown selector, or a
            channel no plugin provides or a URL its channel refuses among the registry's
            configured addresses; a hosted component has no implementation, or one that
            leaves interface methods unimplemented (named). Nothing is started then, and the
            registry is closed.

    Attributes:
        runtime: the manager's :class:`Runtime`.
    """

    def __init__(
        self,
        component_registry: ComponentRegistry,
        channel_manager: ChannelManager,
        config: Mapping[str, Any] | Settings | None = None,
        container: Any = None,
        client_interceptors: Iterable[InterceptorLike] = (),
        server_interceptors: Iterable[InterceptorLike] = (),
        runtime: Runtime | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.component_registry = component_registry
        try:
            self.runtime, self.settings = _runtime_and_settings(runtime, config)
            self.config: Mapping[str, Any] = self.settings.raw
            self.channel_manager = channel_manager
            self.preferred_channel = ""
            self._container = container
            self._hosting: Hosting | None = None
            self._lock = threading.RLock()
            self._interceptors = {
                "client": list(client_interceptors) + self._configured_interceptors("client"),
                "server": list(server_interceptors) + self._configured_interceptors("server"),
            }
            self._component_interceptors = {
                (name, side): [
                    load_interceptor(spec, f"components.{name}.interceptors.{side}[{index}]")
                    for index, spec in enumerate(getattr(settings.interceptors, side))
                ]
                for name, settings in self.settings.components.items()
                for side in ("client", "server")
            }
            self._authenticators = authenticators_from(self.settings)
            self._default_credentials = credentials_from(self.settings, None)
            self._credentials = {
                name: credentials_from(self.settings, name) for name in self.settings.components
            }
            self._check_configuration()
            self._checked_components: set[str] = set()
            if _application_container(self._container) is not None:
                self.hosting.check()
            self._check_named_components()
        except BaseException:  # refused: release the registry the container made for it
            component_registry.close()
            raise
        # Nothing below starts before the configuration and the hosting passed their checks.
        self.observability = Observability(self.settings)
        self.channel_events = ChannelEvents()
        """What the channels of this manager see happen to instances (failovers, new URLs)."""
        if self.observability.metrics is not None:
            self.channel_events.subscribe(self.observability.metrics)
        self._guard: Guard | None = None
        self._services: dict[tuple[Any, str], Any] = {}
        self._channels: dict[tuple[type, str], Channel] = {}
        self._transports: dict[type[Channel], Transport | InProcessTransport] = {}
        self._started: list[ComponentDescriptor[Any]] = []
        self._own_listener: Listener | None = None
        self._own_local_uri = ""
        self.served_channels: set[str] = set()
        self._closed = False

    # checks made when the manager is created

    def _check_configuration(self) -> None:
        """Refuse now what config holds that would fail at a call: selectors, channels, URLs.

        Raises:
            ConfigurationException: an unknown selector, a channel no plugin provides or a URL
                its channel refuses in the registry's configured addresses; the key is named.
        """
        for name, component in self.settings.components.items():
            if component.selector is not None:
                selector_by_name(component.selector, f"components.{name}.selector")
        for where, address in self.component_registry.configured_addresses().items():
            channel_class = self._channel_class(address.channel, f"config key {where!r}")
            for url in address.urls:
                problem = channel_class.check_url(url)
                if problem is not None:
                    raise ConfigurationException(
                        f"config key {where!r} holds the URL {redact_credentials(url)!r}, which channel "
                        f"{address.channel!r} refuses: {problem}"
                    )

    def _check_named_components(self) -> None:
        """Check what the configuration names against what the container knows.

        An unknown top-level section is logged; so is a ``components.<name>`` that no class of
        the process declares, when this container hosts components. The per-method keys of
        each component known now (hosted here, or declared by a class of the process) are
        checked now; those of another component when it is first asked for.

        Raises:
            ConfigurationException: a ``components.<component>.methods`` key names no method
                of the component (named, with the component's methods).
        """
        warn_unknown_sections(self.settings.raw, self.runtime.sections.names())
        hosted: dict[str, ComponentDescriptor[Any]] = {}
        if _application_container(self._container) is not None:
            hosted = {component.name: component for component in self.hosting.components}
        declared: dict[str, ComponentDescriptor[Any]] | None = None  # the class graph, walked once
        for name in self.settings.raw.get("components") or {}:
            component = hosted.get(name) or self.runtime.catalog.components.get(name)
            if component is None:
                declared = declared_components() if declared is None else declared
                component = declared.get(name)
            if component is not None:
                self._check_component_settings(component)
            elif hosted:
                warn_unknown_component(str(name), declared or {})

    def _check_component_settings(self, component: ComponentDescriptor[Any]) -> None:
        """Check a component's per-method config keys, once per component."""
        if component.name in self._checked_components:
            return
        configured = self.settings.components.get(component.name)
        if configured is not None:
            check_method_keys(component, configured)
        self._checked_components.add(component.name)

    def _channel_class(self, name: str, where: str) -> type[Channel]:
        """Return the channel class of ``name``; unknown, a ConfigurationException naming ``where``."""
        try:
            return self.channel_manager.get_class(name)
        except UnknownChannelException as exc:
            raise ConfigurationException(
                f"{where} names the channel {name!r}, which no plugin provides; known channels: "
                f"{', '.join(exc.known) or '(none)'}"
            ) from None

    # hosting

    @property
    def hosting(self) -> Hosting:
        """What this manager's application container hosts (read from it on first use)."""
        hosting = self._hosting
        if hosting is None:
            with self._lock:
                if self._hosting is None:
                    self._hosting = Hosting(
                        _application_container(self._container),
                        self.runtime.catalog,
                        self.runtime.workers.run,
                    )
                hosting = self._hosting
        return hosting

    def attach_container(self, application: Any) -> None:
        """Host what ``application`` provides (when this manager was found by other means)."""
        if self._container is None:
            self._container = application

    def hosted_components(self) -> list[ComponentDescriptor[Any]]:
        """Return the components this manager's application container hosts."""
        return list(self.hosting.components)

    def get_instance(self, implementation: type[T]) -> T:
        """Return this container's object of an implementation class, made once.

        It comes from the application container's provider of the class (so its dependencies
        are injected), else from its no-argument constructor.
        """
        return cast(T, self.hosting.instance(implementation))

    def implementation_of(self, descriptor: ServiceDescriptor[Any] | ComponentDescriptor[Any]) -> Any:
        """Return the object implementing a hosted service or component.

        Raises:
            ConfigurationException: the container hosts it but no implementation is known.
        """
        return self.hosting.instance_of(descriptor)

    # interceptors, transports, dispatchers

    def _configured_interceptors(self, side: str) -> list[InterceptorLike]:
        specs = getattr(self.settings.interceptors, side)
        return [load_interceptor(spec, f"interceptors.{side}[{i}]") for i, spec in enumerate(specs)]

    def client_interceptors(self, component: str) -> list[InterceptorLike]:
        """Return the interceptors of calls to ``component``, outermost first."""
        return self._interceptors_of(component, "client")

    def server_interceptors(self, component: str) -> list[InterceptorLike]:
        """Return the interceptors of calls served for ``component``, outermost first."""
        return self._interceptors_of(component, "server")

    def _interceptors_of(self, component: str, side: str) -> list[InterceptorLike]:
        shared = [i for i in self._interceptors[side] if applies_to(i, component)]
        chain = shared + self._component_interceptors.get((component, side), [])
        if side == "server" and self._guard is not None:
            chain.insert(0, self._guard)  # who is calling is known before anything else runs
        if side == "client":
            credentials = self._credentials.get(component, self._default_credentials)
            if credentials is not None:
                chain.append(credentials)
        # Outermost: spans, metrics and logs see every call, refused ones included.
        return self.observability.interceptors(side) + chain

    def metrics_exposition(self) -> tuple[bytes, str] | None:
        """Return the Prometheus text exposition and its content type (None: metrics are off)."""
        return self.observability.exposition()

    def _make_guard(self, hosting: Hosting) -> Guard | None:
        """Resolve the hosted methods' rules; None when no authenticator is configured.

        Raises:
            ConfigurationException: a rule needs an authenticated caller but no authenticator
                is configured (every call would be refused).
        """
        settings = self.settings

        def method_rule(component: str, service: str, method: str) -> list[str] | None:
            found = settings.method(component, service, method)
            return found.allow if found is not None else None

        rules = method_rules(
            hosting.components,
            hosting.instance_of,
            method_rule,
            lambda component: settings.component(component).allow,
        )
        if settings.auth.allow is not None:
            default = parse_rule(settings.auth.allow, "config key 'auth.allow'")
        else:
            default = frozenset({"authenticated"} if self._authenticators else {"anyone"})
        if self._authenticators:
            return Guard(self._authenticators, rules, default)
        closed = sorted(path for path, rule in rules.items() if "anyone" not in rule)
        if "anyone" not in default:
            closed.insert(0, "auth.allow")
        if closed:
            raise ConfigurationException(
                f"{', '.join(closed[:3])} admit only authenticated callers, but no authenticator is "
                "configured: set auth.bearer, auth.jwt, auth.mtls or auth.authenticators"
            )
        return None

    def transport_for(self, channel_class: type[Channel]) -> Transport | InProcessTransport:
        """Return this manager's transport of a channel class (one, shared by its components)."""
        transport = self._transports.get(channel_class)
        if transport is None:
            with self._lock:
                transport = self._transports.get(channel_class)
                if transport is None:
                    assert channel_class.transport is not None
                    transport = channel_class.transport(self.settings)
                    self._transports[channel_class] = transport
        return transport

    def create_dispatcher(self, debug: bool = False, threads: int = WORKERS) -> Dispatcher:
        """Return a dispatcher of this manager's hosted components (implementations made now).

        Args:
            debug: answer unexpected exceptions with their message and traceback.
            threads: the dispatcher's worker threads (``def`` implementations called through
                :meth:`Dispatcher.handle_async <container.plugin.Dispatcher.handle_async>`).

        Raises:
            ConfigurationException: a hosted component or service has no implementation, or
                an async-only interceptor would wrap a ``def`` method.
        """
        hosting = self.hosting
        hosting.check()
        self._guard = self._make_guard(hosting)
        if debug:
            logger.warning(
                "DEBUG MODE: error answers carry exception messages and tracebacks to every caller; "
                "never use it where an untrusted caller can reach the server"
            )
        return Dispatcher(
            hosting.components,
            hosting.instance_of,
            self._component_object,
            self.server_interceptors,
            debug=debug,
            health_endpoint=hosting.health_endpoint,
            guard=self._guard,
            expose=self.settings.auth.expose,
            workers=self.runtime.workers,
            threads=threads,
        )

    def _component_object(self, component: ComponentDescriptor[Any]) -> Any:
        instance = self.hosting.instance_of(component)
        if getattr(instance, "health_checks", False) is None:
            instance.health_checks = self.hosting.health_checks(component)
        return instance

    @property
    def local_uri(self) -> str:
        """The ``local`` channel URL of this manager's hosted services, listening from first use.

        A server registers its own ``local`` URL; this one lets :meth:`proxy` reach the hosted
        services of a manager that no server booted.
        """
        with self._lock:
            if self._own_listener is None:
                channel_class = self.channel_manager.get_class(LOCAL)
                if channel_class.listener is None:
                    raise NoAddressException(f"the {LOCAL!r} channel plugin has no listener")
                listener = channel_class.listener(self.create_dispatcher(), self.settings)
                self._own_local_uri = listener.listen(ChannelAddress(LOCAL, "")).uri
                self._own_listener = listener
            return self._own_local_uri

    # resolution

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

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
            The local implementation (hosted here, channel ``"local"`` or empty) or a proxy,
            which looks the component up in the registry on its first call.

        Raises:
            ServiceNotFoundException: ``service_type`` is not a registered service.
        """
        found = self._services.get((service_type, preferred_channel))
        if found is not None:
            return cast(T, found)
        descriptor = self._service_descriptor(service_type)
        wanted = preferred_channel or self.preferred_channel
        with self._lock:
            if wanted in ("", LOCAL) and self.hosting.hosts(descriptor):
                result: Any = self.hosting.instance_of(descriptor)
            else:
                component = descriptor.component_descriptor
                result = make_proxy(
                    descriptor,
                    Binding(
                        lambda deadline: self._resolve(component, wanted, deadline),
                        lambda method: self.settings.timeout(
                            component.name, method.service.name, method.name
                        ),
                        self.runtime.workers,
                    ),
                )
            self._services[(service_type, preferred_channel)] = result
            return cast(T, result)

    def proxy(self, service_type: ServiceType[T], channel: str) -> T:
        """Return a proxy through the named channel, even when the service is hosted here.

        The URLs are the registry's for that channel, looked up now; for ``"local"`` without
        any, this manager's own. Useful in tests, to call a hosted service exactly as a remote
        caller would.

        Raises:
            NoAddressException: the registry offers no URL of the component on ``channel``.
        """
        descriptor = self._service_descriptor(service_type)
        component = descriptor.component_descriptor
        offered = [a for a in self.component_registry.get_addresses(component) if a.channel == channel]
        if offered:
            address = offered[0]
        elif channel == LOCAL:
            address = ChannelInstances(component.name, LOCAL, [self.local_uri])
        else:
            raise NoAddressException(self._no_address(component, channel, []))
        return cast(T, make_proxy(descriptor, self._channel(component, address), self.runtime.workers))

    def _service_descriptor(self, service_type: Any) -> ServiceDescriptor[Any]:
        descriptor = self.runtime.catalog.get(service_type)
        self._check_component_settings(descriptor.get_component_descriptor())
        if isinstance(descriptor, ComponentDescriptor):
            names = ", ".join(s.type.__qualname__ for s in descriptor.services)
            raise ServiceNotFoundException(
                f"{service_type.__qualname__} is a component; ask for one of its services: {names}",
                service_type,
            )
        return cast(ServiceDescriptor[Any], descriptor)

    def _resolve(self, component: ComponentDescriptor[Any], wanted: str, deadline: float | None) -> Channel:
        """Return the channel of a proxy's first call, waiting up to its deadline for an address."""
        failure: ServiceCommunicationException | None = None
        while True:
            try:
                addresses = self.component_registry.get_addresses(component)
            except ServiceCommunicationException as exc:  # the registry is unreachable for now
                addresses, failure = [], exc
            address = _choose(addresses, wanted)
            if address is not None:
                return self._channel(component, address)
            left = None if deadline is None else deadline - time.monotonic()
            if left is None or left <= 0:
                message = self._no_address(component, wanted, addresses)
                if failure is not None:
                    raise NoAddressException(f"{message}; the registry failed: {failure}") from failure
                raise NoAddressException(message)
            time.sleep(min(ADDRESS_POLL, left))

    def _no_address(
        self, component: ComponentDescriptor[Any], wanted: str, addresses: list[ChannelInstances]
    ) -> str:
        offered = ", ".join(a.channel for a in addresses if a.urls) or "none"
        registry = type(self.component_registry).__name__
        if wanted:
            return (
                f"component {component.name!r} is not offered on channel {wanted!r} by {registry}; "
                f"channels offered: {offered}"
            )
        return (
            f"no address of component {component.name!r} is known to {registry}, and this "
            "container does not host it"
        )

    def _channel(self, component: ComponentDescriptor[Any], address: ChannelInstances) -> Channel:
        key = (component.type, address.channel)
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                channel = self.channel_manager.make(address.channel, component, address, self)
                self._channels[key] = channel
                self.component_registry.watch(channel)
            return channel

    def component_settings(self, component: str) -> Mapping[str, Any]:
        """Return the config section ``components.<component>`` as given (empty when absent).

        The validated form is ``manager.settings.component(name)``.
        """
        components = self.config.get("components") or {}
        return cast(Mapping[str, Any], components.get(component) or {})

    # lifecycle

    def startup(self, server: AddressListener | None = None, port: int = 0) -> None:
        """Start every hosted component and register its addresses.

        For each component: call ``startup()``, collect ``get_addresses(port)``, let the server
        listen on each (``server.listen_on``), register the addresses it really listens on.

        Args:
            server: the server hosting the components (None: nothing is served).
            port: the port ``get_addresses`` receives (the server's bound port).
        """
        for component in self.hosted_components():
            instance = cast("Component", self._component_object(component))
            instance.startup()
            with self._lock:
                self._started.append(component)
            addresses = list(instance.get_addresses(port)) if server is not None else []
            for address in addresses:
                self._channel_class(address.channel, f"{component.name}.get_addresses()")
            if server is not None:
                addresses = [server.listen_on(component, a) for a in addresses]
                self._check_addresses(component, addresses)
                self.served_channels.update(a.channel for a in addresses)
            if addresses:
                self.component_registry.register(component, addresses)
            logger.info("started component %s at %s", component.name, redact_credentials(str(addresses)))

    def _check_addresses(self, component: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Refuse to register an address its channel could not call (callers would drop it).

        Raises:
            ConfigurationException: the channel cannot use the URL (``Channel.check_url``: its
                scheme or shape is not the channel's, or it carries credentials).
        """
        for address in addresses:
            problem = self.channel_manager.get_class(address.channel).check_url(address.uri)
            if problem is not None:
                raise ConfigurationException(
                    f"{component.name}.get_addresses() gave {address.channel} URL "
                    f"{redact_credentials(address.uri)!r}: {problem}"
                )

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
            try:
                self.hosting.instance_of(component).shutdown()
            except Exception:  # the others still stop
                logger.exception("stopping %s failed", component.name)

    def shutdown(self) -> None:
        """Deregister and stop every started component (a server calls the steps separately)."""
        self.deregister()
        self.stop_components()

    def close(self) -> None:
        """Shut down, close channels, transports and the registry; not used afterwards."""
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        with self._lock:
            channels = list(self._channels.values())
            transports = list(self._transports.values())
            listener, self._own_listener = self._own_listener, None
            self._channels.clear()
            self._services.clear()
            self._transports.clear()
        if listener is not None:
            listener.stop_accepting()
            listener.close()
            listener.dispatcher.close()
        for channel in channels:
            channel.close()
        for transport in transports:
            transport.close()
        self.component_registry.close()
        self.observability.close()

    async def aclose(self) -> None:
        """:meth:`close` from an event loop: each transport's ``aclose()`` is awaited on it.

        Transports written for asyncio may hold connections of the running loop, which only
        that loop can close; everything else closes as :meth:`close` closes it, in a thread.
        """
        with self._lock:
            transports = list(self._transports.values())
        for transport in transports:
            await transport.aclose()
        await in_thread(self.runtime.workers.pool, self.close)

    def report(self) -> str:
        """Return a plain-text report of the hosted components and their services."""
        lines = []
        for component in self.hosted_components():
            status = "running" if component in self._started else "not started"
            lines.append(f"component {component.name} ({component.type.__qualname__}) {status}")
            for service in component.services:
                impl = self.hosting.implementation_class(service).__qualname__
                lines.append(f"  service {service.name} ({service.type.__qualname__}) -> {impl}")
                for method in service.methods.values():
                    lines.append(f"    {method.name}{method.signature}")
        return "\n".join(lines) + "\n"


def _runtime_and_settings(
    runtime: Runtime | None, config: Mapping[str, Any] | Settings | None
) -> tuple[Runtime, Settings]:
    """The manager's runtime and settings: settings made with a runtime bring theirs."""
    if not isinstance(config, Settings):
        runtime = runtime if runtime is not None else Runtime()
        return runtime, Settings(config, runtime=runtime)
    if not isinstance(config.runtime, Runtime):  # settings made outside a container
        runtime = runtime if runtime is not None else Runtime()
        config.runtime = runtime
        return runtime, config
    if runtime is not None and runtime is not config.runtime:
        raise ConfigurationException(
            "the ServiceManager's runtime is not the one its Settings were made with; give one runtime"
        )
    return config.runtime, config


def _choose(addresses: list[ChannelInstances], wanted: str) -> ChannelInstances | None:
    for address in addresses:
        if address.channel == wanted and address.urls:
            return address
    if wanted in ("", LOCAL):
        return next((a for a in addresses if a.urls), None)
    return None


def _application_container(service_container: Any) -> Any:
    """Return the application container that includes a ServiceContainer instance, if any."""
    if service_container is None:
        return None
    holder = getattr(service_container, "parent", None)  # the providers.Container provider
    application = getattr(holder, "parent", None)
    if application is not None and hasattr(application, "traverse"):
        return application
    return service_container if hasattr(service_container, "traverse") else None
