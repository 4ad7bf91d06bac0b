"""servicewire's core: services, components, the ServiceManager and the plugin contracts.

A service interface resolves at injection time to the local implementation or to a proxy
whose calls travel through a channel plugin to wherever a registry plugin says the service
runs. This package never imports a plugin; plugins are found through the entry-point groups
``servicewire.channels`` and ``servicewire.registries``.
"""

from ._channel import (
    SELECTORS,
    Channel,
    FirstURLSelector,
    Invocation,
    LeastInFlightURLSelector,
    RandomURLSelector,
    RoundRobinURLSelector,
    URLSelector,
    selector_by_name,
)
from ._channel_manager import ChannelManager
from ._client import ServiceClient, connect
from ._component import AbstractComponent, Component, ComponentStatus, Service
from ._decorators import (
    channel,
    component,
    descriptor_of,
    health,
    idempotent,
    implementation,
    service,
)
from ._descriptors import (
    CATALOG,
    BaseDescriptor,
    ComponentDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from ._errors import (
    CallInterruptedException,
    ConfigurationException,
    LocalServiceException,
    NoAddressException,
    PluginException,
    RemoteServiceException,
    ServiceCommunicationException,
    ServiceException,
    ServiceNotFoundException,
    ServiceTimeoutException,
    ServiceUnavailableException,
    UnknownChannelException,
    UnknownRegistryException,
)
from ._health import (
    Health,
    HealthCheckManager,
    HealthResult,
    HealthStatus,
    health_check,
    health_checks,
)
from ._manager import ServiceManager
from ._plugins import CHANNEL_GROUP, CHANNELS, REGISTRIES, REGISTRY_GROUP, PluginGroup
from ._provider import ServiceInstanceProvider
from ._registry import ComponentRegistry, WatchList
from ._server import Server
from ._service_container import ServiceContainer, create_registry, find_service_manager_provider
from ._values import ChannelAddress, ChannelInstances

__all__ = [
    "CATALOG",
    "CHANNELS",
    "CHANNEL_GROUP",
    "REGISTRIES",
    "REGISTRY_GROUP",
    "SELECTORS",
    "AbstractComponent",
    "BaseDescriptor",
    "CallInterruptedException",
    "Channel",
    "ChannelAddress",
    "ChannelInstances",
    "ChannelManager",
    "Component",
    "ComponentDescriptor",
    "ComponentRegistry",
    "ComponentStatus",
    "ConfigurationException",
    "FirstURLSelector",
    "Health",
    "HealthCheckManager",
    "HealthResult",
    "HealthStatus",
    "Invocation",
    "LeastInFlightURLSelector",
    "LocalServiceException",
    "MethodDescriptor",
    "NoAddressException",
    "PluginException",
    "PluginGroup",
    "RandomURLSelector",
    "RemoteServiceException",
    "RoundRobinURLSelector",
    "Server",
    "Service",
    "ServiceClient",
    "ServiceCommunicationException",
    "ServiceContainer",
    "ServiceDescriptor",
    "ServiceException",
    "ServiceInstanceProvider",
    "ServiceManager",
    "ServiceNotFoundException",
    "ServiceTimeoutException",
    "ServiceUnavailableException",
    "URLSelector",
    "UnknownChannelException",
    "UnknownRegistryException",
    "WatchList",
    "channel",
    "component",
    "connect",
    "create_registry",
    "descriptor_of",
    "find_service_manager_provider",
    "health",
    "health_check",
    "health_checks",
    "idempotent",
    "implementation",
    "selector_by_name",
    "service",
]
