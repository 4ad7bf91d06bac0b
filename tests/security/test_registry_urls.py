"""URLs from a registry are checked against the channel before anything is sent to them."""

from __future__ import annotations

import logging
from abc import abstractmethod

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ConfigurationException,
    NoAddressException,
    Service,
    ServiceContainer,
    channel_of,
    component,
    implementation,
    service,
)
from container.plugin import url_problem
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


def test_a_client_uses_only_the_good_urls_and_says_which_it_refused(caplog):
    server = HttpServer("127.0.0.1", 0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    good = f"http://127.0.0.1:{server.port}"
    config = {
        "registry": {
            "type": "static",
            "components": {"wire-component": {"dispatch-msgpack": [*HOSTILE, good]}},
        }
    }
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    try:
        with caplog.at_level(logging.WARNING, logger="servicewire"):
            wire = manager.get_service(WireService, "dispatch-msgpack")
            for _ in range(10):
                assert wire.hello("x") == "x"
        assert channel_of(wire).address.urls == [good]
        refused = [r.getMessage() for r in caplog.records if "is refused" in r.getMessage()]
        assert len(refused) == len(HOSTILE)
        assert any("credentials" in message for message in refused)
        assert all("secret" not in message or "user:secret@" in message for message in refused)
    finally:
        manager.close()
        server.shutdown()


def test_only_hostile_urls_means_no_address_and_nothing_sent():
    config = {"registry": {"type": "static", "components": {"wire-component": {"dispatch-json": HOSTILE}}}}
    manager = ServiceContainer(
        config=providers.Object(config),
    ).service_manager()
    try:
        wire = manager.get_service(WireService, "dispatch-json")
        with pytest.raises(NoAddressException):
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
    with pytest.raises(ConfigurationException, match="carries credentials"):
        server.boot(container)
