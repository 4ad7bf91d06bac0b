"""Interceptors: one contract for both sides, from code and from config, on every channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    CallContext,
    ConfigurationException,
    Identity,
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
    """Passes the call on with the metadata pair ``stamp: from-the-client`` (client side)."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        return call_next(call.with_metadata({"stamp": "from-the-client"}))


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


# frozen calls


class AssignsTheOldWay(Interceptor):
    """An interceptor written before calls were frozen: it assigns into the call's metadata."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        call.context.metadata["stamp"] = "in place"
        return call_next(call)


def test_changing_a_call_in_place_is_refused_with_what_to_do_instead():
    """Assigning into metadata, a context or a call raises an error that names the replacement."""
    manager = manager_with(client_interceptors=[AssignsTheOldWay()])
    try:
        with pytest.raises(TypeError, match=r"read-only: pass call_next\(call.with_metadata"):
            manager.proxy(CalculatorService, "local").add(1)
    finally:
        manager.close()
    context = CallContext()
    with pytest.raises(AttributeError, match=r"frozen: use context.replace\(identity=...\)"):
        context.identity = Identity("mallory")  # type: ignore[misc]


def test_replace_gives_a_new_call_and_leaves_the_old_one_as_it_was():
    """call.replace and with_metadata return new calls; the metadata is checked like call_options'."""
    seen: list[Any] = []

    def capture(call: Any, call_next: Any) -> Any:
        seen.append(call)
        changed = call.with_metadata({"tenant": "acme"}).replace(args=(40, 2))
        seen.append(changed)
        return call_next(changed)

    manager = manager_with(client_interceptors=[capture])
    try:
        assert manager.proxy(CalculatorService, "local").add(1, 1) == 42
    finally:
        manager.close()
    original, changed = seen
    assert dict(original.metadata) == {} and original.args == (1, 1)
    assert dict(changed.metadata) == {"tenant": "acme"} and changed.args == (40, 2)
    assert changed.context.deadline == original.context.deadline
    with pytest.raises(ConfigurationException, match="'content-type' is reserved"):
        original.with_metadata({"content-type": "text/html"})


class Impersonate(Interceptor):
    """A server interceptor that passes the call on with an identity of its choosing."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        return call_next(call.replace(identity=Identity("svc-batch", "test", frozenset({"batch"}))))


def who_is_calling(call: Any, call_next: Any) -> Any:
    """Records the identity the next interceptor and the implementation see."""
    EVENTS.append(f"interceptor sees {call.context.identity.subject}")
    result = call_next(call)
    served = call_context()
    EVENTS.append(f"after the call, call_context() holds {served.identity.subject}")
    return result


def test_an_identity_passed_on_is_what_the_implementation_sees():
    """A server interceptor's call.replace(identity=...) reaches later interceptors and call_context()."""

    class Observed(CalculatorServiceImpl):
        def add(self, a: int, b: int = 1) -> int:
            served = call_context()
            assert served is not None and served.identity is not None
            EVENTS.append(f"implementation sees {served.identity.subject}")
            return super().add(a, b)

    container = CalculatorHost(
        server_interceptors=providers.List(providers.Object(Impersonate()), providers.Object(who_is_calling))
    )
    container.calculator.override(providers.Singleton(Observed))
    container.config.from_dict({"registry": {"type": "static"}})
    manager = container.services.service_manager()
    try:
        assert manager.proxy(CalculatorService, "local").add(1) == 2
    finally:
        manager.close()
    assert EVENTS == [
        "interceptor sees svc-batch",
        "implementation sees svc-batch",
        "after the call, call_context() holds svc-batch",
    ]


def test_the_dispatcher_of_earlier_releases_still_answers_field_by_field():
    """Dispatcher.dispatch(path, body, content type, metadata, peer) is handle() of one ServerRequest."""
    from container.plugin import ServerRequest

    manager = manager_with()
    try:
        dispatcher = manager.create_dispatcher()
        path, body = "ct-calculator/calculator-service/add", b'{"args": [2, 3]}'
        old = dispatcher.dispatch(path, body, "application/json", {}, "peer")
        new = dispatcher.handle(ServerRequest(path, body, "application/json", {}, "peer"))
    finally:
        manager.close()
    assert (old.status, old.body) == (new.status, new.body) == (200, b'{"result":5}')
