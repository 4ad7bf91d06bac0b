"""A failure of a call an implementation makes keeps its meaning for that implementation's caller.

A relay service, called in process, calls the wire-test service over HTTP: its deadline (a
per-method timeout) expires, or no instance can be reached. The relay's caller receives a
RemoteServiceException with the dependency's status and servicewire's message, never a
communication failure of its own, and the relay logs it once at WARNING without a traceback.
An unexpected exception keeps the rule of secrets: its type and an error id, ERROR with the
traceback. (tests/e2e/test_failures_across_hops.py does the same over three processes.)
"""

from __future__ import annotations

import logging
import socket
from abc import abstractmethod
from collections.abc import Iterator

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    RemoteServiceException,
    Service,
    ServiceCommunicationException,
    ServiceContainer,
    ServiceManager,
    UnauthenticatedException,
    component,
    implementation,
    service,
)
from tests.channels.services import WireService, WireServiceImpl


@service(name="forwarder")
class RelayService(Service):
    """Calls the wire-test service on behalf of its caller."""

    @abstractmethod
    def sleep_there(self, seconds: float) -> float:
        """Call wire-test.sleep on the instance that answers."""

    @abstractmethod
    def hello_nowhere(self) -> str:
        """Call wire-test.hello on an instance that is not there."""

    @abstractmethod
    def bug(self) -> str:
        """Raise a KeyError of its own."""


@component(name="forwarder-component", services=[RelayService])
class RelayComponent(Component):
    """Hosts the relay."""


@implementation()
class RelayServiceImpl(RelayService):
    def __init__(self, manager: ServiceManager) -> None:
        self.manager = manager

    def sleep_there(self, seconds: float) -> float:
        return self.manager.get_service(WireService, "dispatch-msgpack").sleep(seconds)

    def hello_nowhere(self) -> str:
        return self.manager.get_service(WireService, "dispatch-json").hello("anyone?")

    def bug(self) -> str:
        raise KeyError("the password is hunter2")


@implementation()
class RelayComponentImpl(AbstractComponent, RelayComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return []


class WireHost(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    wire = providers.Singleton(WireServiceImpl)


class RelayHost(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    relay = providers.Singleton(RelayServiceImpl, manager=services.service_manager)


@pytest.fixture(scope="module")
def relay() -> Iterator[RelayService]:
    """The relay, called in process; wire-test over HTTP: live on msgpack, dead on JSON."""
    wire = HttpServer()
    wire.boot(WireHost())
    held = socket.socket()  # bound, never listening: connections to its port are refused
    held.bind(("127.0.0.1", 0))
    live, dead = f"http://127.0.0.1:{wire.port}", f"http://127.0.0.1:{held.getsockname()[1]}"
    container = RelayHost()
    container.config.from_dict(
        {
            "registry": {
                "type": "static",
                "components": {"wire-component": {"dispatch-msgpack": [live], "dispatch-json": [dead]}},
            },
            "components": {"wire-component": {"methods": {"wire-test.sleep": {"timeout": 0.2}}}},
        }
    )
    manager = container.services.service_manager()
    try:
        yield manager.proxy(RelayService, "local")
    finally:
        manager.close()
        wire.shutdown()
        held.close()


def server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "servicewire.server"]


def test_a_nested_deadline_reaches_the_caller_as_the_dependencys_timeout(relay, caplog):
    """The relay's own call ran out of its 0.2 s: the caller reads 504 and the timeout's message."""
    caplog.set_level(logging.INFO)
    with pytest.raises(RemoteServiceException) as info:
        relay.sleep_there(1.0)
    failure = info.value
    assert not isinstance(failure, ServiceCommunicationException), "the caller's own exchange did not fail"
    assert failure.status == 504 and failure.kind == "dependency"
    assert failure.remote_type == "container.ServiceTimeoutException"
    assert "deadline of 0.2s expired calling" in failure.remote_message
    assert failure.path == "forwarder-component/forwarder/sleep_there" and failure.error_id
    (record,) = server_records(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert failure.error_id in record.getMessage() and "deadline of 0.2s" in record.getMessage()


def test_an_unreachable_dependency_reaches_the_caller_as_unavailable(relay, caplog):
    """No instance of the dependency answered: 503 with the connection's message, logged once."""
    caplog.set_level(logging.INFO)
    with pytest.raises(RemoteServiceException) as info:
        relay.hello_nowhere()
    failure = info.value
    assert failure.status == 503 and failure.kind == "dependency"
    assert failure.remote_type == "container.ServiceUnavailableException"
    assert "cannot reach http://127.0.0.1:" in failure.remote_message
    assert not isinstance(failure, UnauthenticatedException)
    (record,) = server_records(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None


def test_an_unexpected_exception_stays_a_secret_logged_with_its_traceback(relay, caplog):
    """A bug of the implementation: its type and an error id reach the caller; ERROR with traceback."""
    with pytest.raises(RemoteServiceException) as info:
        relay.bug()
    failure = info.value
    assert failure.status == 500 and failure.kind == "" and failure.remote_type == "builtins.KeyError"
    assert "hunter2" not in failure.remote_message and failure.error_id in failure.remote_message
    (record,) = server_records(caplog)
    assert record.levelno == logging.ERROR and record.exc_info is not None
