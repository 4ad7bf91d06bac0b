"""ServiceContainer: the servicewire providers to include in an application container."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dependency_injector import containers, providers

from ..config._settings import Settings
from ..discovery._registry import ComponentRegistry
from ..values._errors import ConfigurationException
from ._channel_manager import ChannelManager
from ._manager import ServiceManager
from ._plugins import REGISTRIES
from ._runtime import Runtime

DEFAULT_REGISTRY = {"type": "static"}


def create_registry(config: Mapping[str, Any] | Settings | None) -> ComponentRegistry:
    """Create the registry named by ``registry.type`` with its config section.

    A config without a ``registry`` section gets an empty static registry (enough for an
    application whose services are all local). The registry plugins are those of the
    settings' runtime (the process's when the settings belong to none).

    Raises:
        ConfigurationException: the section or ``registry.type`` is malformed or missing.
        UnknownRegistryException: no registry plugin of that type; the message lists the known
            ones.
    """
    settings = config if isinstance(config, Settings) else Settings(_as_mapping(config, "config"))
    section = settings.registry
    plugins = settings.runtime.registries if isinstance(settings.runtime, Runtime) else REGISTRIES
    kind = section.get("type")
    if not kind:
        raise ConfigurationException(
            "config key 'registry.type' is missing; known registry types: " + ", ".join(plugins.names())
        )
    if not isinstance(kind, str):
        raise ConfigurationException(f"config key 'registry.type' must be a string, got {kind!r}")
    registry_class = plugins.get(kind)
    return registry_class(section)  # type: ignore[no-any-return]


def _as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationException(
            f"config key {where!r} must be a mapping, got {type(value).__name__}: {value!r}"
        )
    return value


class ServiceContainer(containers.DeclarativeContainer):
    """The servicewire providers, meant to be included in an application container.

    For example::

        class MainContainer(containers.DeclarativeContainer):
            config = providers.Configuration()
            services = providers.Container(ServiceContainer, config=config)
            hello = ServiceInstanceProvider(HelloService)

    ``config`` takes the whole servicewire configuration: a dict, or any
    :class:`~dependency_injector.providers.Configuration` (YAML, INI, environment).
    Interceptors given in code go in ``client_interceptors`` and ``server_interceptors``::

        services = providers.Container(
            ServiceContainer,
            config=config,
            client_interceptors=providers.List(providers.Singleton(Timing)),
        )

    Each ServiceContainer owns a :class:`Runtime` (its catalog, plugin registrations,
    in-process addresses and shared managers); containers meant to see each other are given
    one: ``ServiceContainer(config=..., runtime=providers.Object(runtime))``.

    Attributes:
        runtime: this container's :class:`Runtime`.
        config: the configuration mapping.
        extensions: objects given in code for plugins, by the key each plugin documents (for
            example ``"http.session_customizers"``: a list of session customizer functions).
        settings: the validated configuration (:class:`~container.plugin.Settings`).
        client_interceptors: interceptors of outgoing calls, outermost first.
        server_interceptors: interceptors of incoming calls, outermost first.
        registry: the component registry chosen by ``registry.type``.
        channel_manager: the channel factory.
        service_manager: the :class:`ServiceManager`.
    """

    __self__ = providers.Self()

    runtime = providers.Singleton(Runtime)
    config = providers.Configuration(default={})
    extensions = providers.Dict()
    settings = providers.Singleton(Settings, config, extensions, runtime=runtime)
    client_interceptors = providers.List()
    server_interceptors = providers.List()
    registry = providers.Singleton(create_registry, settings)
    channel_manager = providers.Singleton(ChannelManager, runtime.provided.channels)
    service_manager = providers.Singleton(
        ServiceManager,
        component_registry=registry,
        channel_manager=channel_manager,
        config=settings,
        runtime=runtime,
        container=__self__,
        client_interceptors=client_interceptors,
        server_interceptors=server_interceptors,
    )


def find_service_manager_provider(container: Any) -> Any:
    """Return the ``service_manager`` provider of the ServiceContainer in ``container``.

    ``container`` may be a ServiceContainer itself, or an application container that includes
    one through ``providers.Container(ServiceContainer, ...)`` (possibly a subclass).

    Raises:
        ConfigurationException: none or several ServiceContainers are included.
    """
    if _is_service_container(container):
        return container.service_manager
    found = [
        provider
        for provider in getattr(container, "providers", {}).values()
        if isinstance(provider, providers.Container) and _is_service_container(provider.container)
    ]
    name = getattr(container, "__name__", None) or type(container).__name__
    if len(found) == 1:
        return found[0].container.service_manager
    if not found:
        raise ConfigurationException(
            f"container {name} includes no ServiceContainer: add "
            "`services = providers.Container(ServiceContainer, config=...)`, or pass "
            "manager= to ServiceInstanceProvider"
        )
    raise ConfigurationException(
        f"container {name} includes {len(found)} ServiceContainers; pass manager= to "
        "ServiceInstanceProvider to say which one to use"
    )


def _is_service_container(container: Any) -> bool:
    declarative = getattr(container, "declarative_parent", None)
    if isinstance(container, type):
        declarative = container
    return isinstance(declarative, type) and issubclass(declarative, ServiceContainer)
