"""servicewire's application API: services, components, the ServiceManager, calls and errors.

A service interface resolves at injection time to the local implementation or to a proxy
whose calls travel through a channel plugin to wherever a registry plugin says the service
runs. This package never imports a plugin; plugins are found through the entry-point groups
``servicewire.channels`` and ``servicewire.registries``. What plugin and interceptor authors
build on (transports, listeners, the dispatcher, calls and interceptors, typed plugin
settings, statuses) is in :mod:`container.plugin`, the codec in :mod:`container.codec`; no
name is in both ``container`` and ``container.plugin``.

Names that left this module (to :mod:`container.plugin`, or internals of older releases) still
resolve from it, silently, for code written before; they are not in ``__all__`` or ``dir()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .call._context import (
    CallContext,
    Identity,
    LastResponse,
    call_context,
    call_options,
    last_response,
    set_response_metadata,
)
from .client._channel import Channel, channel_of
from .declarations._component import AbstractComponent, Component, ComponentStatus, Service
from .declarations._decorators import (
    channel,
    component,
    descriptor_of,
    health,
    health_checks,
    idempotent,
    implementation,
    service,
)
from .declarations._descriptors import BaseDescriptor, ComponentDescriptor, ServiceDescriptor
from .declarations._health import Health, HealthResult, HealthStatus, health_check
from .discovery._registry import ComponentRegistry
from .policies._selectors import FirstURLSelector, RoundRobinURLSelector, URLSelector
from .runtime._bridges import call_blocking, call_in_thread
from .runtime._channel_manager import ChannelManager
from .runtime._connect import ServiceClient, connect, default_runtime
from .runtime._manager import ServiceManager
from .runtime._provider import ServiceInstanceProvider
from .runtime._runtime import Runtime
from .runtime._server import ListenerlessServer, Server
from .runtime._service_container import ServiceContainer
from .security._auth import BearerCredentials, allow
from .security._authenticators import (
    AuthenticationFailed,
    Authenticator,
    BearerTokens,
    ClientCertificates,
    token_digest,
)
from .values._errors import (
    BlockingCallException,
    CallInterruptedException,
    ConfigurationException,
    InvalidResponseException,
    ListingNotSupportedException,
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
from .values._public import moved_names, publish
from .values._values import ChannelAddress, ChannelInstances
from .values._version import __version__ as __version__

__all__ = [
    "AbstractComponent",
    "AuthenticationFailed",
    "Authenticator",
    "BaseDescriptor",
    "BearerCredentials",
    "BearerTokens",
    "BlockingCallException",
    "CallContext",
    "CallInterruptedException",
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
    "InvalidResponseException",
    "LastResponse",
    "ListenerlessServer",
    "ListingNotSupportedException",
    "LocalServiceException",
    "NoAddressException",
    "PermissionDeniedException",
    "PluginException",
    "RemoteError",
    "RemoteServiceException",
    "RoundRobinURLSelector",
    "Runtime",
    "SerializationException",
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
    "UnauthenticatedException",
    "UnknownChannelException",
    "UnknownRegistryException",
    "allow",
    "call_blocking",
    "call_context",
    "call_in_thread",
    "call_options",
    "channel",
    "channel_of",
    "component",
    "connect",
    "default_runtime",
    "descriptor_of",
    "health",
    "health_check",
    "health_checks",
    "idempotent",
    "implementation",
    "last_response",
    "service",
    "set_response_metadata",
    "token_digest",
]

publish(globals(), __all__, __name__)

# Names that left this module's public surface: where each one lives now.
if not TYPE_CHECKING:  # type checkers see only the names of __all__
    __getattr__ = moved_names(
        __name__,
        {
            # the plugin API
            "Call": "container.plugin:Call",
            "CallRejected": "container.plugin:CallRejected",
            "Interceptor": "container.plugin:Interceptor",
            "Invocation": "container.plugin:Invocation",
            "ServerCall": "container.plugin:ServerCall",
            "Settings": "container.plugin:Settings",
            "MethodDescriptor": "container.plugin:MethodDescriptor",
            "WatchList": "container.plugin:WatchList",
            "create_registry": "container.plugin:create_registry",
            "CHANNELS": "container.plugin:CHANNELS",
            "CHANNEL_GROUP": "container.plugin:CHANNEL_GROUP",
            "REGISTRIES": "container.plugin:REGISTRIES",
            "REGISTRY_GROUP": "container.plugin:REGISTRY_GROUP",
            "PluginGroup": "container.plugin:PluginGroup",
            "SELECTORS": "container.plugin:SELECTORS",
            "selector_by_name": "container.plugin:selector_by_name",
            "RandomURLSelector": "container.plugin:RandomURLSelector",
            "LeastInFlightURLSelector": "container.plugin:LeastInFlightURLSelector",
            # internals of older releases
            "CATALOG": "container.declarations._descriptors:CATALOG",
            "HealthCheckManager": "container.declarations._health:HealthCheckManager",
            "find_service_manager_provider": (
                "container.runtime._service_container:find_service_manager_provider"
            ),
        },
    )
