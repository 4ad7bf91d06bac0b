"""servicewire's plugin API: what channel, registry and interceptor authors build on.

A channel plugin is a :class:`~container.Channel` subclass that names its ``codec``, its
``schemes`` and ``url_shapes`` (:class:`URLShape`), a :class:`Transport` (client side: bytes to
a URL and back) and, when it serves, a :class:`Listener` (server side: hands each request to
the :class:`Dispatcher`). Everything between a proxy and the transport, and between a listener
and the implementation, is the core's call pipeline; :class:`Interceptor` wraps it on either
side (``intercept_async`` for ``async def`` methods). A transport may offer ``send_async``
(one that does not is run in the runtime's thread pool), and an asyncio listener hands requests
to :meth:`Dispatcher.handle_async`, on a :class:`BackgroundLoop` of its own if it likes. A
registry plugin is a :class:`~container.ComponentRegistry` subclass. A plugin's config
section is typed (a msgspec Struct or an attrs class) and declared in the
:data:`SETTINGS_GROUP` entry points; :meth:`Settings.section` hands it over, and
``Settings.runtime`` (a :class:`PluginRuntime`) the runtime of the container the plugin works
for: its in-process :class:`AddressSpace`. Plugins are found
through the entry-point groups :data:`CHANNEL_GROUP` and :data:`REGISTRY_GROUP`;
:mod:`container.testing` is the conformance kit. See docs/writing-a-channel-plugin.md and
docs/writing-a-registry-plugin.md.

Value types, errors and the classes a plugin subclasses that the seed API names (``Channel``,
``ComponentRegistry``, ``ChannelAddress``, ...) come from :mod:`container`; the codecs
(``JSON_CODEC``, ``MSGPACK_CODEC``, ``Codec``, ``CODECS``, ``codec_for``) and the codec's
functions from :mod:`container.codec`. Each public name has one public module: no name is in
two of them. Names that left this module still resolve from it, silently; they are not in
``__all__`` or ``dir()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .call._calls import AsyncCallNext, Call, CallNext, Interceptor, InterceptorLike, Invocation, ServerCall
from .call._context import (
    RESERVED_METADATA,
    RESERVED_RESPONSE_METADATA,
    TIMEOUT_KEY,
    check_metadata,
    deadline_from_metadata,
)
from .call._dispatcher import CallRejected, Dispatcher
from .call._messages import Cancellation, Request, Response, ServerRequest
from .call._pool import IdlePool, socket_is_stale
from .call._transport import InProcessTransport, Listener, Transport
from .config._plugins import CHANNEL_GROUP, REGISTRY_GROUP, SETTINGS_GROUP, PluginGroup
from .config._runtime import AddressSpace, PluginRuntime
from .config._settings import SECTIONS, Settings
from .config._workers import BackgroundLoop, Workers
from .declarations._descriptors import MethodDescriptor
from .discovery._registry import WatchList
from .policies._selectors import SELECTORS, LeastInFlightURLSelector, RandomURLSelector, selector_by_name
from .policies._urls import URLShape, url_problem
from .runtime._plugins import CHANNELS, REGISTRIES
from .runtime._service_container import create_registry
from .values._loading import load_object
from .values._public import moved_names, publish
from .values._redact import redact_credentials
from .values._status import Status

__all__ = [
    "CHANNELS",
    "CHANNEL_GROUP",
    "REGISTRIES",
    "REGISTRY_GROUP",
    "RESERVED_METADATA",
    "RESERVED_RESPONSE_METADATA",
    "SECTIONS",
    "SELECTORS",
    "SETTINGS_GROUP",
    "TIMEOUT_KEY",
    "AddressSpace",
    "AsyncCallNext",
    "BackgroundLoop",
    "Call",
    "CallNext",
    "CallRejected",
    "Cancellation",
    "Dispatcher",
    "IdlePool",
    "InProcessTransport",
    "Interceptor",
    "InterceptorLike",
    "Invocation",
    "LeastInFlightURLSelector",
    "Listener",
    "MethodDescriptor",
    "PluginGroup",
    "PluginRuntime",
    "RandomURLSelector",
    "Request",
    "Response",
    "ServerCall",
    "ServerRequest",
    "Settings",
    "Status",
    "Transport",
    "URLShape",
    "WatchList",
    "Workers",
    "check_metadata",
    "create_registry",
    "deadline_from_metadata",
    "load_object",
    "redact_credentials",
    "selector_by_name",
    "socket_is_stale",
    "url_problem",
]

publish(globals(), __all__, __name__)

# Names that left this module's public surface: where each one lives now.
if not TYPE_CHECKING:  # type checkers see only the names of __all__
    __getattr__ = moved_names(
        __name__,
        {
            # value types, errors and seed classes: the application API
            "CallContext": "container:CallContext",
            "CallInterruptedException": "container:CallInterruptedException",
            "Channel": "container:Channel",
            "ChannelAddress": "container:ChannelAddress",
            "ChannelInstances": "container:ChannelInstances",
            "ChannelManager": "container:ChannelManager",
            "ComponentDescriptor": "container:ComponentDescriptor",
            "ComponentRegistry": "container:ComponentRegistry",
            "ConfigurationException": "container:ConfigurationException",
            "InvalidResponseException": "container:InvalidResponseException",
            "ListenerlessServer": "container:ListenerlessServer",
            "PluginException": "container:PluginException",
            "Server": "container:Server",
            "ServiceDescriptor": "container:ServiceDescriptor",
            "ServiceManager": "container:ServiceManager",
            "ServiceTimeoutException": "container:ServiceTimeoutException",
            "ServiceUnavailableException": "container:ServiceUnavailableException",
            "URLSelector": "container:URLSelector",
            # the codecs and the codec's functions: container.codec
            "CODECS": "container.codec:CODECS",
            "Codec": "container.codec:Codec",
            "JSON_CODEC": "container.codec:JSON_CODEC",
            "MSGPACK_CODEC": "container.codec:MSGPACK_CODEC",
            "codec_for": "container.codec:codec_for",
            "CodecError": "container.codec:CodecError",
            "CodecErrorKind": "container.codec:CodecErrorKind",
            "MethodCodec": "container.codec:MethodCodec",
            "decode_error": "container.codec:decode_error",
            "encode_error": "container.codec:encode_error",
            "encode_exception": "container.codec:encode_exception",
            "error_for_status": "container.codec:error_for_status",
        },
    )
