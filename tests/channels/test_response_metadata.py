"""Response metadata, both ways: set on the server, carried by every HTTP path, read by the caller.

The conformance kit checks every channel with the gRPC interoperability case "custom_metadata"
(tests/test_conformance.py); these tests cover what is particular to the HTTP channels (both
client transports, the WSGI application, the headers on the wire) and the rules of the API.
"""

from __future__ import annotations

import io
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dependency_injector import containers, providers

from channels.http import HttpServer, ServiceApplication
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ConfigurationException,
    RemoteServiceException,
    Service,
    ServiceContainer,
    ServiceInstanceProvider,
    call_context,
    call_options,
    component,
    implementation,
    last_response,
    service,
    set_response_metadata,
)

from .async_services import AsyncWireServiceImpl
from .conftest import client_manager, wire
from .services import InsufficientFunds, WireService, WireServiceImpl


def answer_with_metadata(call: Any, call_next: Any) -> Any:
    """A server interceptor: the answer says who served it, whether the call returned or raised."""
    set_response_metadata({"x-served-by": "interceptor"})
    try:
        return call_next(call)
    finally:
        set_response_metadata({"x-echo": call.context.metadata.get("x-echo", "-")})


class Host(containers.DeclarativeContainer):
    config = providers.Configuration()
    server_interceptors = providers.List(providers.Object(answer_with_metadata))
    services = providers.Container(ServiceContainer, config=config, server_interceptors=server_interceptors)
    wire = providers.Singleton(WireServiceImpl)
    async_wire = providers.Singleton(AsyncWireServiceImpl)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """An HttpServer whose server interceptor sets metadata on every answer."""
    server = HttpServer()
    container = Host()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.mark.parametrize("channel", ["dispatch-json", "dispatch-msgpack"])
def test_the_caller_reads_the_answers_metadata(base_url, channel, transport):
    """Every client returns the answer's headers as its metadata, for results and errors."""
    manager = client_manager(base_url, transport)
    try:
        proxy = wire(manager, transport, channel)
        with call_options(metadata={"x-echo": "ping"}), last_response() as response:
            assert proxy.hello("hi") == "hi"
        assert dict(response.metadata) == {"x-served-by": "interceptor", "x-echo": "ping"}
        assert response.url == base_url
        with last_response() as failed, pytest.raises(InsufficientFunds):
            proxy.withdraw(10**6)
        assert failed.metadata["x-served-by"] == "interceptor"
    finally:
        manager.close()


def test_on_the_wire_the_answers_metadata_is_headers(base_url):
    """Any HTTP client sees the answer's metadata as header fields."""
    answer = requests.post(
        f"{base_url}/invoke/wire-component/wire-test/hello",
        json={"args": ["raw"]},
        headers={"x-echo": "raw"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["x-served-by"] == "interceptor" and answer.headers["x-echo"] == "raw"


def test_the_wsgi_application_sends_the_answers_metadata():
    """The WSGI application answers with the same headers as the embedded server."""
    container = Host()
    container.config.from_dict({"registry": {"type": "static"}})
    manager = container.services.service_manager()
    try:
        application = ServiceApplication(manager)
        body = b'{"args": ["wsgi"]}'
        environ = {
            "REQUEST_METHOD": "POST",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "PATH_INFO": "/invoke/wire-component/wire-test/hello",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_ECHO": "wsgi",
            "wsgi.input": io.BytesIO(body),
        }
        started: list[Any] = []
        application(environ, lambda status, headers: started.append((status, dict(headers))))
    finally:
        manager.close()
    status, headers = started[0]
    assert (
        status.startswith("200") and headers["x-served-by"] == "interceptor" and headers["x-echo"] == "wsgi"
    )


def test_set_response_metadata_outside_a_served_call_checks_the_pairs_and_does_nothing_else():
    """No answer to carry them (a direct call, a test): no error; a key not allowed still is one."""
    assert set_response_metadata({"x-anything": "1"}) is None
    with pytest.raises(ConfigurationException, match="'date'"):
        set_response_metadata({"date": "yesterday"})


@service(name="rm-stock")
class Stock(Service):
    @abstractmethod
    def reserve(self, sku: str) -> str: ...


@component(name="rm-stock-component", services=[Stock])
class StockComponent(Component):
    pass


@implementation()
class StockImpl(Stock):
    """README's InventoryServiceImpl: reads the caller's metadata, sets the answer's."""

    def reserve(self, sku: str) -> str:
        context = call_context()
        set_response_metadata({"stock-left": "7"})
        return f"{sku} for {context.metadata.get('tenant', '-') if context else 'a direct caller'}"


@implementation()
class StockComponentImpl(AbstractComponent, StockComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}")]


class StockApp(containers.DeclarativeContainer):
    config = providers.Configuration(default={"registry": {"type": "static"}})
    services = providers.Container(ServiceContainer, config=config)
    stock_impl = providers.Singleton(StockImpl)
    stock = ServiceInstanceProvider(Stock)


def test_an_implementation_using_the_call_apis_works_injected_and_served():
    """The local shortcut hands out the implementation itself: no served call, so call_context()
    is None and set_response_metadata() does nothing; through a channel the same code answers
    with its metadata."""
    app = StockApp()
    injected = app.stock()
    assert isinstance(injected, StockImpl), "hosted here: the local shortcut"
    with call_options(metadata={"tenant": "acme"}), last_response() as direct:
        assert injected.reserve("cup") == "cup for a direct caller"
    assert (direct.calls, dict(direct.metadata)) == (0, {})
    server = HttpServer()
    server.boot(app)
    try:
        served = server.manager.proxy(Stock, "dispatch-json")
        with call_options(metadata={"tenant": "acme"}), last_response() as answer:
            assert served.reserve("cup") == "cup for acme"
        assert answer.metadata["stock-left"] == "7"
    finally:
        server.shutdown()


def reserved(call: Any, call_next: Any) -> Any:
    set_response_metadata({"date": "yesterday"})
    return call_next(call)


def test_a_reserved_answer_key_fails_the_call_naming_the_key():
    """An answer may not forge a header the transport owns (Date, Server, Content-Type, ...): a server bug."""
    container = Host(server_interceptors=providers.List(providers.Object(reserved)))
    container.config.from_dict({"registry": {"type": "static"}})
    manager = container.services.service_manager()
    try:
        with pytest.raises(RemoteServiceException) as info:
            manager.proxy(WireService, "local").hello("x")
    finally:
        manager.close()
    assert info.value.remote_type == "container.ConfigurationException"
    assert isinstance(info.value.__cause__, ConfigurationException)
    assert "response metadata key 'date' is reserved" in str(info.value.__cause__)
