"""Both public surfaces are pinned: adding or removing a name is deliberate."""

import types
import warnings

import pytest

import container
import container.plugin

APPLICATION_API = {
    "AbstractComponent",
    "AuthenticationFailed",
    "Authenticator",
    "BearerCredentials",
    "BearerTokens",
    "ClientCertificates",
    "PermissionDeniedException",
    "UnauthenticatedException",
    "allow",
    "token_digest",
    "BaseDescriptor",
    "Call",
    "CallContext",
    "CallInterruptedException",
    "CallRejected",
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
    "UnknownChannelException",
    "UnknownRegistryException",
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
}

PLUGIN_API = {
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
    "CodecErrorKind",
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
}


def test_application_api_is_pinned():
    """container.__all__ lists exactly the application API."""
    assert set(container.__all__) == APPLICATION_API


def test_plugin_api_is_pinned():
    """container.plugin.__all__ lists exactly the plugin API."""
    assert set(container.plugin.__all__) == PLUGIN_API


@pytest.mark.parametrize("module", [container, container.plugin], ids=["container", "container.plugin"])
def test_every_exported_name_exists_and_is_documented(module):
    """Every exported class and function is importable and has a docstring."""
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, (type, types.FunctionType)):
            assert value.__doc__, f"{name} has no docstring"


def test_no_private_name_is_exported():
    """Internals stay out of both surfaces."""
    for module in (container, container.plugin):
        assert not [name for name in module.__all__ if name.startswith("_")]


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("WatchList", "import it from container.plugin"),
        ("create_registry", "import it from container.plugin"),
        ("CATALOG", "internal: use descriptor_of"),
    ],
)
def test_moved_names_still_import_with_a_warning_that_says_where(name, advice):
    """A name that left the application API still imports, warning where it lives now."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(container, name)
    assert value is not None
    assert any(advice in str(w.message) and issubclass(w.category, DeprecationWarning) for w in caught)


def test_unknown_name_is_an_attribute_error():
    """A name that never existed is an AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        container.Nope  # noqa: B018


def test_selectors_reachable_from_channel():
    """The selectors are reachable as Channel.FirstURLSelector etc., as in the seed."""
    assert container.Channel.FirstURLSelector is container.FirstURLSelector
    assert container.Channel.RoundRobinURLSelector is container.RoundRobinURLSelector


def test_exception_tree():
    """The three branches derive from ServiceException; precise errors from their branch."""
    assert issubclass(container.LocalServiceException, container.ServiceException)
    assert issubclass(container.RemoteServiceException, container.ServiceException)
    assert issubclass(container.ServiceCommunicationException, container.ServiceException)
    assert issubclass(container.ServiceTimeoutException, container.ServiceCommunicationException)
    assert issubclass(container.InvalidResponseException, container.ServiceCommunicationException)
    assert issubclass(container.SerializationException, container.LocalServiceException)
    assert issubclass(container.UnknownChannelException, LookupError)
    assert issubclass(container.ServiceNotFoundException, LookupError)
