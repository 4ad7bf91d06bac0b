"""Interceptors: one contract for both sides, from code and from config, on every channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    ConfigurationException,
    RemoteServiceException,
    ServiceContainer,
    ServiceManager,
    call_context,
)
from container.plugin import CallRejected, Interceptor
from tests.channels.services import WireService, WireServiceImpl

from .services import CalculatorService, CalculatorServiceImpl

EVENTS: list[str] = []


class Named(Interceptor):
    """Appends ``<name>:<side>:<method>`` before and ``<name>:done`` after the call."""

    def __init__(self, name: str) -> None:
        self.name = name

    def intercept(self, call: Any, call_next: Any) -> Any:
        EVENTS.append(f"{self.name}:{call.side}:{call.method.name}")
        result = call_next(call)
        EVENTS.append(f"{self.name}:done")
        return result


class Stamp(Interceptor):
    """Adds the metadata pair ``stamp: <side>`` on the client side."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        call.context.metadata["stamp"] = "from-the-client"
        return call_next(call)


class ConfiguredFromText(Named):
    """An interceptor that config names by import path (no constructor arguments)."""

    def __init__(self) -> None:
        super().__init__("configured")


def seen_by_the_server(call: Any, call_next: Any) -> Any:
    """A plain-function interceptor: records what metadata the server side received."""
    EVENTS.append("server-metadata:" + call.context.metadata.get("stamp", "-"))
    return call_next(call)


class CalculatorHost(containers.DeclarativeContainer):
    """Hosts the calculator; interceptors and config come from each test."""

    config = providers.Configuration()
    client_interceptors = providers.List()
    server_interceptors = providers.List()
    services = providers.Container(
        ServiceContainer,
        config=config,
        client_interceptors=client_interceptors,
        server_interceptors=server_interceptors,
    )
    calculator = providers.Singleton(CalculatorServiceImpl)


def manager_with(config: dict[str, Any] | None = None, **interceptors: Any) -> ServiceManager:
    lists = {
        name: providers.List(*(providers.Object(i) for i in items)) for name, items in interceptors.items()
    }
    container = CalculatorHost(**lists)
    container.config.from_dict(config or {"registry": {"type": "static"}})
    return container.services.service_manager()


@pytest.fixture(autouse=True)
def fresh_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


def test_both_sides_run_outermost_first_on_the_local_channel():
    """Client interceptors wrap the call, server interceptors wrap the implementation, in order."""
    manager = manager_with(
        client_interceptors=[Named("c1"), Named("c2")], server_interceptors=[Named("s1"), Named("s2")]
    )
    try:
        assert manager.proxy(CalculatorService, "local").add(2, 3) == 5
    finally:
        manager.close()
    assert EVENTS == [
        "c1:client:add",
        "c2:client:add",
        "s1:server:add",
        "s2:server:add",
        "s2:done",
        "s1:done",
        "c2:done",
        "c1:done",
    ]


def test_metadata_added_by_a_client_interceptor_reaches_server_interceptors_and_the_implementation():
    """What a client interceptor puts in the metadata is what the server side reads."""
    manager = manager_with(client_interceptors=[Stamp()], server_interceptors=[seen_by_the_server])
    try:
        assert manager.proxy(CalculatorService, "local").add(1) == 2
    finally:
        manager.close()
    assert EVENTS == ["server-metadata:from-the-client"]


def test_an_interceptor_may_short_circuit():
    """A client interceptor that answers itself keeps the call from being sent."""

    def cached(call: Any, call_next: Any) -> Any:
        return 42 if call.method.name == "add" else call_next(call)

    manager = manager_with(client_interceptors=[cached], server_interceptors=[Named("server")])
    try:
        assert manager.proxy(CalculatorService, "local").add(1, 1) == 42
    finally:
        manager.close()
    assert EVENTS == [], "nothing reached the server side"


def test_interceptors_named_in_config_and_limited_to_a_component():
    """interceptors.client names an interceptor by import path; a components filter scopes one."""
    scoped = Named("scoped")
    scoped.components = frozenset({"some-other-component"})
    config = {
        "registry": {"type": "static"},
        "interceptors": {"client": [f"{__name__}:ConfiguredFromText"]},
        "components": {"ct-calculator": {"interceptors": {"server": [f"{__name__}:seen_by_the_server"]}}},
    }
    manager = manager_with(config, client_interceptors=[scoped])
    try:
        assert manager.proxy(CalculatorService, "local").add(1) == 2
    finally:
        manager.close()
    assert EVENTS == ["configured:client:add", "server-metadata:-", "configured:done"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "expected 'package.module:name'"),
        ("tests.nowhere:Thing", "cannot import 'tests.nowhere:Thing'"),
        (f"{__name__}:EVENTS", "not an Interceptor or f\\(call, call_next\\)"),
    ],
    ids=["malformed", "missing-module", "not-an-interceptor"],
)
def test_a_bad_interceptor_in_config_names_the_key(spec, message):
    """An interceptor config cannot load is refused when the manager is created, naming the key."""
    with pytest.raises(ConfigurationException, match=rf"config key 'interceptors.server\[0\]'.*{message}"):
        manager_with({"interceptors": {"server": [spec]}})


def refuse(call: Any, call_next: Any) -> Any:
    """A server interceptor that refuses every call without reading the arguments."""
    raise CallRejected(403, f"{call.method.name} is not for you")


def test_a_server_interceptor_refusal_reaches_the_caller_with_its_status():
    """CallRejected answers with its status; the implementation does not run."""
    manager = manager_with(server_interceptors=[refuse, Named("after")])
    try:
        with pytest.raises(RemoteServiceException) as info:
            manager.proxy(CalculatorService, "local").add(1)
    finally:
        manager.close()
    assert info.value.status == 403 and info.value.remote_type == "PermissionDenied"
    assert "add is not for you" in info.value.remote_message
    assert EVENTS == []


class WireServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    server_interceptors = providers.List()
    services = providers.Container(ServiceContainer, config=config, server_interceptors=server_interceptors)
    wire = providers.Singleton(WireServiceImpl)


@pytest.fixture
def refusing_server() -> Iterator[HttpServer]:
    """An HttpServer whose only server interceptor refuses every call."""
    server = HttpServer()
    container = WireServerContainer(server_interceptors=providers.List(providers.Object(refuse)))
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    yield server
    server.shutdown()


def test_server_interceptors_run_before_the_arguments_are_decoded(refusing_server):
    """A refusing interceptor answers 403 even to a body that would not decode (no 400, no work)."""
    response = requests.post(
        f"http://127.0.0.1:{refusing_server.port}/invoke/wire-component/wire-test/hello",
        data=b'{"args": [42, "too", "many"]}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["error"] == {"type": "PermissionDenied", "message": "hello is not for you"}


def test_metadata_travels_as_headers_over_http():
    """Metadata added by a client interceptor arrives, over HTTP, in the implementation's context."""

    class Echo(Interceptor):
        def intercept(self, call: Any, call_next: Any) -> Any:
            if call.side == "server":
                current = call_context()
                assert current is not None
                EVENTS.append(f"{current.metadata.get('stamp')} {current.peer.startswith('127.0.0.1')}")
            return call_next(call)

    server = HttpServer()
    container = WireServerContainer(server_interceptors=providers.List(providers.Object(Echo())))
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    url = f"http://127.0.0.1:{server.port}"
    manager = manager_with(
        {"registry": {"type": "static", "components": {"wire-component": {"dispatch-msgpack": [url]}}}},
        client_interceptors=[Stamp()],
    )
    try:
        assert manager.get_service(WireService, "dispatch-msgpack").hello("hi") == "hi"
    finally:
        manager.close()
        server.shutdown()
    assert EVENTS == ["from-the-client True"]
