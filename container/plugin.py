"""servicewire's plugin API: what channel, registry and interceptor authors build on.

A channel plugin is a :class:`Channel` subclass that names its ``codec``, its ``schemes``, a
:class:`Transport` (client side: bytes to a URL and back) and, when it serves, a
:class:`Listener` (server side: hands each request to the :class:`Dispatcher`). Everything
between a proxy and the transport, and between a listener and the implementation, is the core's
call pipeline. A registry plugin is a :class:`ComponentRegistry` subclass. Both are found through
the entry-point groups :data:`CHANNEL_GROUP` and :data:`REGISTRY_GROUP`; :mod:`container.testing`
is the conformance kit. See docs/writing-a-channel-plugin.md and docs/writing-a-registry-plugin.md.
"""

from __future__ import annotations

from .call._calls import Call, CallNext, Interceptor, InterceptorLike, Invocation, ServerCall
from .call._context import RESERVED_METADATA, TIMEOUT_KEY, CallContext, check_metadata, deadline_from_metadata
from .call._dispatcher import CallRejected, Dispatcher
from .call._pool import IdlePool, socket_is_stale
from .call._transport import InProcessTransport, Listener, Request, Response, Transport
from .config._settings import Settings
from .declarations._descriptors import ComponentDescriptor, MethodDescriptor, ServiceDescriptor
from .discovery._registry import ComponentRegistry, WatchList
from .policies._channel import Channel
from .policies._selectors import SELECTORS, URLSelector, selector_by_name
from .policies._urls import url_problem
from .runtime._channel_manager import ChannelManager
from .runtime._manager import ServiceManager
from .runtime._plugins import CHANNEL_GROUP, CHANNELS, REGISTRIES, REGISTRY_GROUP, PluginGroup
from .runtime._server import ListenerlessServer, Server
from .runtime._service_container import create_registry
from .values._errors import (
    CallInterruptedException,
    ConfigurationException,
    InvalidResponseException,
    PluginException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from .values._loading import load_object
from .values._values import ChannelAddress, ChannelInstances
from .wire._codec import (
    CODECS,
    JSON_CODEC,
    MSGPACK_CODEC,
    Codec,
    CodecError,
    MethodCodec,
    codec_for,
    decode_error,
    encode_error,
    encode_exception,
    error_for_status,
)

__all__ = [
    "CHANNELS",
    "CHANNEL_GROUP",
    "CODECS",
    "JSON_CODEC",
    "MSGPACK_CODEC",
    "REGISTRIES",
    "REGISTRY_GROUP",
    "RESERVED_METADATA",
    "SELECTORS",
    "TIMEOUT_KEY",
    "Call",
    "CallContext",
    "CallInterruptedException",
    "CallNext",
    "CallRejected",
    "Channel",
    "ChannelAddress",
    "ChannelInstances",
    "ChannelManager",
    "Codec",
    "CodecError",
    "ComponentDescriptor",
    "ComponentRegistry",
    "ConfigurationException",
    "Dispatcher",
    "IdlePool",
    "InProcessTransport",
    "Interceptor",
    "InterceptorLike",
    "InvalidResponseException",
    "Invocation",
    "Listener",
    "ListenerlessServer",
    "MethodCodec",
    "MethodDescriptor",
    "PluginException",
    "PluginGroup",
    "Request",
    "Response",
    "Server",
    "ServerCall",
    "ServiceDescriptor",
    "ServiceManager",
    "ServiceTimeoutException",
    "ServiceUnavailableException",
    "Settings",
    "Transport",
    "URLSelector",
    "WatchList",
    "check_metadata",
    "codec_for",
    "create_registry",
    "deadline_from_metadata",
    "decode_error",
    "encode_error",
    "encode_exception",
    "error_for_status",
    "load_object",
    "selector_by_name",
    "socket_is_stale",
    "url_problem",
]
