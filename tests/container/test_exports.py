"""The public surfaces are pinned: adding, moving or removing a name is deliberate.

``container`` is the application API, ``container.plugin`` the plugin API, ``container.codec``
the codec; no name is in both ``container`` and ``container.plugin``, and every public name's
``__module__`` is the module it is imported from. Names that left a surface still resolve from
it, silently, so code written against an older surface runs under ``-W error``.
"""

import importlib
import inspect
import json
import pydoc
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest

import container
import container.codec
import container.observability
import container.plugin

ROOT = Path(__file__).resolve().parents[2]

APPLICATION_API = {
    # services, components, lifecycle and health
    "Service",
    "Component",
    "AbstractComponent",
    "ComponentStatus",
    "Health",
    "HealthResult",
    "HealthStatus",
    # decorators
    "service",
    "component",
    "implementation",
    "health",
    "channel",
    "idempotent",
    "allow",
    "health_check",
    "health_checks",
    # metadata
    "BaseDescriptor",
    "ServiceDescriptor",
    "ComponentDescriptor",
    "descriptor_of",
    # value types
    "ChannelAddress",
    "ChannelInstances",
    # channels and selection
    "Channel",
    "URLSelector",
    "FirstURLSelector",
    "RoundRobinURLSelector",
    "Runtime",
    "channel_of",
    # the seed's managers, registry, container, provider and server
    "ChannelManager",
    "ComponentRegistry",
    "ServiceManager",
    "ServiceInstanceProvider",
    "ServiceContainer",
    "Server",
    "ListenerlessServer",
    # scripts
    "connect",
    "default_runtime",
    "ServiceClient",
    # calls
    "CallContext",
    "Identity",
    "call_context",
    "call_options",
    "set_response_metadata",
    "last_response",
    "LastResponse",
    # sync and async code
    "call_blocking",
    "call_in_thread",
    "BlockingCallException",
    # security
    "Authenticator",
    "AuthenticationFailed",
    "BearerTokens",
    "BearerCredentials",
    "ClientCertificates",
    "token_digest",
    # errors
    "ServiceException",
    "LocalServiceException",
    "ConfigurationException",
    "ServiceNotFoundException",
    "UnknownChannelException",
    "UnknownRegistryException",
    "PluginException",
    "ListingNotSupportedException",
    "SerializationException",
    "RemoteServiceException",
    "RemoteError",
    "UnauthenticatedException",
    "PermissionDeniedException",
    "ServiceCommunicationException",
    "NoAddressException",
    "ServiceUnavailableException",
    "CallInterruptedException",
    "ServiceTimeoutException",
    "InvalidResponseException",
}

PLUGIN_API = {
    # the channel contract
    "Transport",
    "InProcessTransport",
    "Listener",
    "Request",
    "Response",
    "ServerRequest",
    "Cancellation",
    "Dispatcher",
    "CallRejected",
    "Status",
    "IdlePool",
    "socket_is_stale",
    "URLShape",
    "url_problem",
    "redact_credentials",
    # calls and interceptors
    "Call",
    "Invocation",
    "ServerCall",
    "Interceptor",
    "InterceptorLike",
    "CallNext",
    "AsyncCallNext",
    "MethodDescriptor",
    "RESERVED_METADATA",
    "RESERVED_RESPONSE_METADATA",
    "TIMEOUT_KEY",
    "check_metadata",
    "deadline_from_metadata",
    # registries
    "WatchList",
    "create_registry",
    # plugins, entry points and typed settings
    "CHANNELS",
    "CHANNEL_GROUP",
    "REGISTRIES",
    "REGISTRY_GROUP",
    "SECTIONS",
    "SETTINGS_GROUP",
    "PluginGroup",
    "PluginRuntime",
    "AddressSpace",
    "Workers",
    "BackgroundLoop",
    "Settings",
    "load_object",
    # selection by config name
    "SELECTORS",
    "selector_by_name",
    "RandomURLSelector",
    "LeastInFlightURLSelector",
}

CODEC_API = {
    "JSON",
    "MSGPACK",
    "Codec",
    "CodecError",
    "CodecErrorKind",
    "MethodCodec",
    "MethodSignature",
    "JSON_CODEC",
    "MSGPACK_CODEC",
    "CODECS",
    "codec_for",
    "encode_error",
    "encode_exception",
    "exception_type_name",
    "decode_error",
    "error_for_status",
    "bad_answer",
    "error_detail",
}

MOVED = {
    # name: (old module, where it lives now)
    "Call": ("container", container.plugin),
    "CallRejected": ("container", container.plugin),
    "Interceptor": ("container", container.plugin),
    "Invocation": ("container", container.plugin),
    "ServerCall": ("container", container.plugin),
    "Settings": ("container", container.plugin),
    "MethodDescriptor": ("container", container.plugin),
    "WatchList": ("container", container.plugin),
    "create_registry": ("container", container.plugin),
    "CHANNELS": ("container", container.plugin),
    "RandomURLSelector": ("container", container.plugin),
    "LeastInFlightURLSelector": ("container", container.plugin),
    "ChannelAddress": ("container.plugin", container),
    "Channel": ("container.plugin", container),
    "ComponentRegistry": ("container.plugin", container),
    "ConfigurationException": ("container.plugin", container),
    "ServiceManager": ("container.plugin", container),
    "MethodCodec": ("container.plugin", container.codec),
    "CodecErrorKind": ("container.plugin", container.codec),
    "decode_error": ("container.plugin", container.codec),
    "Codec": ("container.plugin", container.codec),
    "CODECS": ("container.plugin", container.codec),
    "JSON_CODEC": ("container.plugin", container.codec),
    "MSGPACK_CODEC": ("container.plugin", container.codec),
    "codec_for": ("container.plugin", container.codec),
}


def test_application_api_is_pinned():
    """container.__all__ lists exactly the application API."""
    assert set(container.__all__) == APPLICATION_API
    assert len(container.__all__) == len(APPLICATION_API), "no name twice"


def test_plugin_api_is_pinned():
    """container.plugin.__all__ lists exactly the plugin API."""
    assert set(container.plugin.__all__) == PLUGIN_API
    assert len(container.plugin.__all__) == len(PLUGIN_API), "no name twice"


def test_codec_api_is_pinned():
    """container.codec.__all__ lists exactly the codec's names."""
    assert set(container.codec.__all__) == CODEC_API


def test_the_two_surfaces_are_disjoint():
    """No name is exported by both container and container.plugin."""
    assert set(container.__all__) & set(container.plugin.__all__) == set()


def test_each_public_name_has_one_public_module():
    """No name is in two of container, container.plugin and container.codec."""
    surfaces = [set(container.__all__), set(container.plugin.__all__), set(container.codec.__all__)]
    assert not (surfaces[0] & surfaces[1]) | (surfaces[0] & surfaces[2]) | (surfaces[1] & surfaces[2])


def test_the_lengths_a_user_prints_show_two_disjoint_lists():
    """`python -c "import container; print(len(container.__all__))"` and the same for the plugin API."""
    script = (
        "import json, container, container.plugin;"
        "print(json.dumps([container.__all__, container.plugin.__all__]))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    application, plugin = json.loads(out)
    assert (len(application), len(plugin)) == (len(APPLICATION_API), len(PLUGIN_API))
    assert not set(application) & set(plugin)


@pytest.mark.parametrize(
    "module",
    [container, container.plugin, container.codec, container.observability],
    ids=lambda module: module.__name__,
)
def test_every_public_name_belongs_to_its_public_module(module):
    """A public class or function reads as its public import: ``container.ServiceManager``."""
    for name in module.__all__:
        value = getattr(module, name)
        if _class_or_function(value):
            assert value.__module__ == module.__name__, (
                f"{module.__name__}.{name} says it is from {value.__module__}"
            )


INTROSPECTED = ["container", "container.plugin", "container.codec", "channels.http"]


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module in INTROSPECTED for name in importlib.import_module(module).__all__],
)
def test_every_public_name_can_be_introspected(module, name):
    """typing.get_type_hints, inspect.signature and pydoc work on every public name.

    Re-homing a class (its ``__module__`` is its public module) must not leave string
    annotations that only resolve where the class was written (``ClassVar``, ``Mapping``).
    """
    value = getattr(importlib.import_module(module), name)
    if _class_or_function(value):
        typing.get_type_hints(value)
        if callable(value):
            try:
                inspect.signature(value)
            except ValueError:  # "no signature found": a class inspect cannot read, not an error
                pass
    if not isinstance(value, str):  # help("text") looks a name up instead
        assert pydoc.render_doc(value, renderer=pydoc.plaintext)


def test_help_on_a_frozen_call_shows_its_fields():
    """The reviewer's case: help(Invocation) raised NameError ('ClassVar' is not defined)."""
    text = pydoc.render_doc(container.plugin.Invocation, renderer=pydoc.plaintext)
    assert "class Invocation" in text and "method" in text
    assert "context" in str(inspect.signature(container.plugin.Invocation))


def test_selectors_are_read_only():
    """SELECTORS is process-wide: nobody can add a selector one container would see in another."""
    with pytest.raises(TypeError):
        container.plugin.SELECTORS["fastest"] = container.FirstURLSelector  # type: ignore[index]
    assert sorted(container.plugin.SELECTORS) == ["first", "least-in-flight", "random", "round-robin"]


def test_reprs_and_wire_names_read_the_public_module():
    """Reprs and the wire names of servicewire's exceptions name the public module."""
    assert repr(container.ServiceManager) == "<class 'container.ServiceManager'>"
    assert repr(container.plugin.Status.OK) == "<Status.OK: 200>"
    assert container.codec.exception_type_name(container.ServiceTimeoutException("u", "deadline", 1.0)) == (
        "container.ServiceTimeoutException"
    )
    assert container.codec.exception_type_name(container.plugin.CallRejected(400, "x")) == (
        "container.plugin.CallRejected"
    )


@pytest.mark.parametrize("module", [container, container.plugin], ids=["container", "container.plugin"])
def test_every_exported_name_exists_and_is_documented(module):
    """Every exported class and function is importable and has a docstring."""
    for name in module.__all__:
        value = getattr(module, name)
        if _class_or_function(value):
            assert value.__doc__, f"{name} has no docstring"


def _class_or_function(value: object) -> bool:
    # Python 3.10 calls a generic alias (`Callable[...]`, as CallNext is) a type as well.
    return isinstance(value, (type, types.FunctionType)) and not isinstance(value, types.GenericAlias)


def test_no_private_name_is_exported():
    """Internals stay out of the surfaces."""
    for module in (container, container.plugin, container.codec):
        assert not [name for name in module.__all__ if name.startswith("_")]


@pytest.mark.parametrize("name", sorted(MOVED))
def test_moved_names_still_resolve_silently_from_their_old_module(name):
    """A name that left a surface resolves from it, to the same object, without a warning."""
    old, new = MOVED[name]
    old_module = sys.modules[old]
    assert getattr(old_module, name) is getattr(new, name)
    assert name not in old_module.__all__
    assert name not in dir(old_module)


def test_old_imports_run_under_w_error():
    """The imports of plugins written to the older guides work with every warning an error."""
    script = "\n".join(
        [
            "from container import MethodDescriptor, WatchList, create_registry, Invocation, Interceptor",
            "from container import CATALOG, HealthCheckManager, find_service_manager_provider, Settings",
            "from container.plugin import Channel, ChannelAddress, ServiceManager, ConfigurationException",
            "from container.codec import OK, BAD_REQUEST, INTERNAL_ERROR, ERROR_TYPES, MSGPACK_CODEC",
            "from container.plugin import JSON_CODEC, Codec, codec_for",
            "from container.plugin import Status",
            "assert OK is Status.OK and INTERNAL_ERROR == 500 and ERROR_TYPES[BAD_REQUEST] == 'BadRequest'",
            "print('ok')",
        ]
    )
    command = [sys.executable, "-W", "error", "-c", script]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_unknown_name_is_an_attribute_error():
    """A name that never existed is an AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        container.Nope  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        container.plugin.Nope  # noqa: B018


def test_selectors_reachable_from_channel():
    """The selectors are reachable as Channel.FirstURLSelector etc., as in the seed."""
    assert container.Channel.FirstURLSelector is container.FirstURLSelector
    assert container.Channel.RoundRobinURLSelector is container.RoundRobinURLSelector
    assert container.Channel.RandomURLSelector is container.plugin.RandomURLSelector
    assert container.Channel.LeastInFlightURLSelector is container.plugin.LeastInFlightURLSelector


def test_status_is_an_int_enum_of_the_protocol_statuses():
    """Status members are the HTTP numbers the wire uses, and ints."""
    status = container.plugin.Status
    assert status.OK == 200 and isinstance(status.BAD_REQUEST, int)
    assert [s.value for s in status] == [200, 400, 401, 403, 404, 405, 413, 415, 500, 503, 504]
    assert status.PERMISSION_DENIED.error_type == "PermissionDenied"
    assert f"{status.NOT_FOUND}" == "404" and str(status.NOT_FOUND) == "404"


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
