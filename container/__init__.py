"""servicewire's application API: services, components, the ServiceManager, calls and errors.

A service interface resolves at injection time to the local implementation or to a proxy
whose calls travel through a channel plugin to wherever a registry plugin says the service
runs. This package never imports a plugin; plugins are found through the entry-point groups
``servicewire.channels`` and ``servicewire.registries``. What plugin authors need (transports,
listeners, the dispatcher, the codec, the registry base) is in :mod:`container.plugin`.
"""

from __future__ import annotations

import warnings
from typing import Any

from .call._calls import Call, Interceptor, Invocation, ServerCall
from .call._context import CallContext, Identity, call_context, call_options
from .call._dispatcher import CallRejected
from .call._proxy import channel_of
from .config._settings import Settings
from .declarations._component import AbstractComponent, Component, ComponentStatus, Service
from .declarations._decorators import (
    channel,
    component,
    descriptor_of,
    health,
    idempotent,
    implementation,
    service,
)
from .declarations._descriptors import BaseDescriptor, ComponentDescriptor, ServiceDescriptor
from .declarations._health import Health, HealthResult, HealthStatus, health_check, health_checks
from .discovery._registry import ComponentRegistry
from .policies._channel import Channel
from .policies._selectors import (
    FirstURLSelector,
    LeastInFlightURLSelector,
    RandomURLSelector,
    RoundRobinURLSelector,
    URLSelector,
)
from .runtime._channel_manager import ChannelManager
from .runtime._client import ServiceClient, connect
from .runtime._manager import ServiceManager
from .runtime._provider import ServiceInstanceProvider
from .runtime._server import ListenerlessServer, Server
from .runtime._service_container import ServiceContainer
from .security._auth import (
    AuthenticationFailed,
    Authenticator,
    BearerCredentials,
    BearerTokens,
    ClientCertificates,
    allow,
    token_digest,
)
from .values._errors import (
    CallInterruptedException,
    ConfigurationException,
    InvalidResponseException,
    LocalServiceException,
    NoAddressException,
    PermissionDeniedException,
    PluginException,
    RemoteError,
    RemoteServiceException,
    SerializationException,
    ServiceCommunicationException,
    ServiceException,
    ServiceNotFoundException,
    ServiceTimeoutException,
    ServiceUnavailableException,
    UnauthenticatedException,
    UnknownChannelException,
    UnknownRegistryException,
)
from .values._values import ChannelAddress, ChannelInstances

__version__ = "0.2.0"
"""The version of servicewire (the same as setup.cfg's)."""

__all__ = [
    "AbstractComponent",
    "AuthenticationFailed",
    "Authenticator",
    "BaseDescriptor",
    "BearerCredentials",
    "BearerTokens",
    "Call",
    "CallContext",
    "CallInterruptedException",
    "CallRejected",
    "Channel",
    "ChannelAddress",
    "ChannelInstances",
    "ChannelManager",
    "ClientCertificates",
    "Component",
    "ComponentDescriptor",
    "ComponentRegistry",
    "ComponentStatus",
    "ConfigurationException",
    "FirstURLSelector",
    "Health",
    "HealthResult",
    "HealthStatus",
    "Identity",
    "Interceptor",
    "InvalidResponseException",
    "Invocation",
    "LeastInFlightURLSelector",
    "ListenerlessServer",
    "LocalServiceException",
    "NoAddressException",
    "PermissionDeniedException",
    "PluginException",
    "RandomURLSelector",
    "RemoteError",
    "RemoteServiceException",
    "RoundRobinURLSelector",
    "SerializationException",
    "Server",
    "ServerCall",
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
    "Settings",
    "URLSelector",
    "UnauthenticatedException",
    "UnknownChannelException",
    "UnknownRegistryException",
    "allow",
    "call_context",
    "call_options",
    "channel",
    "channel_of",
    "component",
    "connect",
    "descriptor_of",
    "health",
    "health_check",
    "health_checks",
    "idempotent",
    "implementation",
    "service",
    "token_digest",
]

# Names that left this module's public surface in 0.2: where each one lives now.
_MOVED = {
    "CATALOG": ("container.declarations._descriptors", "CATALOG", "internal: use descriptor_of(cls)"),
    "CHANNELS": ("container.plugin", "CHANNELS", "import it from container.plugin"),
    "CHANNEL_GROUP": ("container.plugin", "CHANNEL_GROUP", "import it from container.plugin"),
    "REGISTRIES": ("container.plugin", "REGISTRIES", "import it from container.plugin"),
    "REGISTRY_GROUP": ("container.plugin", "REGISTRY_GROUP", "import it from container.plugin"),
    "PluginGroup": ("container.plugin", "PluginGroup", "import it from container.plugin"),
    "SELECTORS": ("container.plugin", "SELECTORS", "import it from container.plugin"),
    "selector_by_name": ("container.plugin", "selector_by_name", "import it from container.plugin"),
    "WatchList": ("container.plugin", "WatchList", "import it from container.plugin"),
    "MethodDescriptor": ("container.plugin", "MethodDescriptor", "import it from container.plugin"),
    "create_registry": ("container.plugin", "create_registry", "import it from container.plugin"),
    "HealthCheckManager": (
        "container.declarations._health",
        "HealthCheckManager",
        "internal: use health_checks",
    ),
    "find_service_manager_provider": (
        "container.runtime._service_container",
        "find_service_manager_provider",
        "internal: use ServiceInstanceProvider or Server.boot",
    ),
}


def __getattr__(name: str) -> Any:
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'container' has no attribute {name!r}")
    module_name, attribute, advice = moved
    warnings.warn(
        f"container.{name} is no longer part of the application API ({advice})",
        DeprecationWarning,
        stacklevel=2,
    )
    import importlib

    return getattr(importlib.import_module(module_name), attribute)
