"""URLs from a registry are checked against the channel before anything is sent to them."""

from __future__ import annotations

import logging
from abc import abstractmethod

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    Channel,
    ChannelAddress,
    ChannelManager,
    Component,
    ConfigurationException,
    NoAddressException,
    Service,
    ServiceContainer,
    call_options,
    channel_of,
    component,
    descriptor_of,
    implementation,
    service,
)
from container.plugin import URLShape, url_problem
from tests.channels.conftest import ServerContainer
from tests.channels.services import WireService

HOSTILE = [
    "file:///etc/passwd",
    "unix:///var/run/docker.sock",
    "127.0.0.1:80",
    "gopher://127.0.0.1:70/_POST",
    "http://user:secret@127.0.0.1:1",
    "http://127.0.0.1:1/?x=1",
    "http://127.0.0.1:99999",
    "http://",
    "http://127.0.0.1:1 /x",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_for_http_channels_with_the_reason(url):
    assert url_problem(url, ("http", "https")) is not None


@pytest.mark.parametrize("url", ["http://10.0.0.5:8000", "https://orders.internal", "http://[::1]:8000/base"])
def test_ordinary_urls_are_accepted(url):
    assert url_problem(url, ("http", "https")) is None


@pytest.mark.parametrize("channel", ["dispatch-json", "dispatch-msgpack"])
def test_the_http_channels_accept_only_http_urls_with_a_host(channel):
    """The HTTP channels declare host:port URLs of http(s): a socket path or another scheme is refused."""
    channel_class = ChannelManager().get_class(channel)
    assert channel_class.url_shapes == (URLShape.HOST_PORT,)
    assert channel_class.check_url("http://10.0.0.5:8000") is None
    assert "scheme 'unix'" in channel_class.check_url("unix:///var/run/docker.sock")
    assert "names no host" in channel_class.check_url("http:///var/run/docker.sock")
    assert "credentials" in channel_class.check_url("https://user:secret@10.0.0.5")


SOCKET_PATHS = [
    ("unix:///var/run/app.sock", None),
    ("unix://host/var/run/app.sock", "names a host"),
    ("unix:///", "names no absolute path"),
    ("unix://user:secret@/x.sock", "credentials"),
    ("unix:///x.sock?mode=rw", "query"),
]


@pytest.mark.parametrize(("url", "problem"), SOCKET_PATHS)
def test_socket_path_urls(url, problem):
    """A channel of socket paths takes scheme:///path, and nothing with a host, credentials or a query."""
    found = url_problem(url, ("unix",), (URLShape.SOCKET_PATH,))
    assert found is None if problem is None else problem in found


def test_an_opaque_name_needs_only_something_after_the_scheme():
    """In-process addresses are names: the local channel takes them, and nothing else."""
    local = ChannelManager().get_class("local")
    assert local.url_shapes == (URLShape.OPAQUE,)
    assert local.check_url("inproc://0123abcd") is None
    assert "scheme" in local.check_url("http://10.0.0.5")
    assert "nothing after scheme://" in url_problem("inproc://", ("inproc",), (URLShape.OPAQUE,))


def test_several_shapes_say_why_each_one_does_not_fit():
    """With host:port and socket paths both allowed, a URL that is neither says why for each."""
    problem = url_problem("tcp://", ("tcp",), (URLShape.HOST_PORT, URLShape.SOCKET_PATH))
    assert "as a host:port URL it names no host" in problem
    assert "as a socket path URL it names no absolute path" in problem
    assert url_problem("tcp:///run/x.sock", ("tcp",), (URLShape.HOST_PORT, URLShape.SOCKET_PATH)) is None


def test_a_first_guide_channel_takes_every_shape_but_never_credentials():
    """A channel of the first contract declared no URL rules: every shape, still no credentials."""

    class OldChannel(Channel):
        name = "old-style"

        def invoke(self, invocation):
            raise NotImplementedError

    assert OldChannel.check_url("unix:///run/x.sock") is None
    assert OldChannel.check_url("tcp://127.0.0.1:9000") is None
    assert OldChannel.check_url("anything://opaque-name") is None
    assert "credentials" in OldChannel.check_url("tcp://user:secret@127.0.0.1:9000")
    assert "query" in OldChannel.check_url("tcp://127.0.0.1:9000/?x=1")


def test_url_shapes_are_checked_when_the_class_is_defined():
    """A channel names its shapes by URLShape or by value; a shape that does not exist is a TypeError."""

    class Named(Channel):
        url_shapes = ("socket path",)

    assert Named.url_shapes == (URLShape.SOCKET_PATH,)
    with pytest.raises(TypeError, match="url_shapes"):

        class Wrong(Channel):
            url_shapes = ("host and port",)


def hostile_registry(manager, channel: str, urls: list[str]) -> None:
    """Put URLs into the manager's registry as a shared registry's other writers could.

    A registry's own configuration is checked when the container is created (a refused URL
    there is a ConfigurationException); what other processes register reaches the channel.
    """
    wire_component = descriptor_of(WireService).component_descriptor
    manager.component_registry.register(wire_component, [ChannelAddress(channel, url) for url in urls])


def test_a_client_uses_only_the_good_urls_and_says_which_it_refused(caplog):
    server = HttpServer("127.0.0.1", 0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    good = f"http://127.0.0.1:{server.port}"
    config = {
        "registry": {
            "type": "static",
            "components": {"wire-component": {"dispatch-msgpack": [good]}},
        }
    }
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    hostile_registry(manager, "dispatch-msgpack", HOSTILE)
    try:
        with caplog.at_level(logging.WARNING, logger="servicewire"):
            wire = manager.get_service(WireService, "dispatch-msgpack")
            for _ in range(10):
                assert wire.hello("x") == "x"
        assert channel_of(wire).address.urls == [good]
        refused = [r.getMessage() for r in caplog.records if "is refused" in r.getMessage()]
        assert len(refused) == len(HOSTILE)
        assert any("credentials" in message for message in refused)
        assert not any("secret" in message for message in refused)  # redacted: http://***@127.0.0.1:1
    finally:
        manager.close()
        server.shutdown()


def test_only_hostile_urls_means_no_address_and_nothing_sent():
    manager = ServiceContainer(config=providers.Object({"registry": {"type": "static"}})).service_manager()
    hostile_registry(manager, "dispatch-json", HOSTILE)
    try:
        wire = manager.get_service(WireService, "dispatch-json")
        with pytest.raises(NoAddressException), call_options(timeout=0.3):
            wire.hello("x")
    finally:
        manager.close()


@service(name="leak")
class LeakService(Service):
    @abstractmethod
    def ping(self) -> str:
        """Answer."""


@component(name="leaky-component", services=[LeakService])
class LeakyComponent(Component):
    pass


@implementation()
class LeakServiceImpl(LeakService):
    def ping(self) -> str:
        return "pong"


@implementation()
class LeakyComponentImpl(AbstractComponent, LeakyComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-json", f"http://admin:hunter2@127.0.0.1:{port}")]


class LeakyContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    leak = providers.Singleton(LeakServiceImpl)
    leaky = providers.Singleton(LeakyComponentImpl)


def test_a_component_cannot_register_a_url_its_callers_would_refuse():
    server = HttpServer("127.0.0.1", 0)
    container = LeakyContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    with pytest.raises(ConfigurationException, match="carries credentials") as info:
        server.boot(container)
    assert "hunter2" not in str(info.value) and "http://***@127.0.0.1:" in str(info.value)
