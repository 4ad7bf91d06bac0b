"""The embedded server on its asyncio loop: chosen by http.server, serving async and sync methods.

A host whose methods are all ``async def`` is served on the asyncio engine (``auto``); its calls
run on the loop that read them, a ``def`` method beside them in the dispatcher's worker pool.
A caller that goes away, or a deadline that passes, cancels the implementation's coroutine;
shutting down lets the calls in flight finish.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dependency_injector import containers, providers

from channels.http import HttpServer
from channels.http._aio_engine import AsyncioEngine
from channels.http._engine import HttpEngine
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceContainer,
    ServiceTimeoutException,
    call_options,
    component,
    implementation,
    service,
)

from .async_services import AsyncWireService, AsyncWireServiceImpl
from .conftest import ServerContainer, client_manager
from .services import make_payload


class AsyncHost(containers.DeclarativeContainer):
    """Hosts async-wire: its methods are async def but one (add)."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    async_wire = providers.Singleton(AsyncWireServiceImpl)


@service(name="pure-async")
class PureAsync(Service):
    @abstractmethod
    async def ping(self) -> str: ...


@component(name="pure-async-component", services=[PureAsync])
class PureAsyncComponent(Component):
    pass


@implementation()
class PureAsyncImpl(PureAsync):
    async def ping(self) -> str:
        return "pong"


@implementation()
class PureAsyncComponentImpl(AbstractComponent, PureAsyncComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}")]


class PureAsyncHost(containers.DeclarativeContainer):
    """Hosts a service whose every method is async def."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    pure = providers.Singleton(PureAsyncImpl)


def boot(container: Any, **http: Any) -> HttpServer:
    server = HttpServer(host="127.0.0.1", port=0)
    container.config.from_dict({"registry": {"type": "static"}, "http": http})
    server.boot(container)
    return server


@pytest.fixture(scope="module")
def async_host() -> Iterator[HttpServer]:
    server = boot(AsyncHost(), server="asyncio")
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def sleeps(async_host: HttpServer) -> list[str]:
    assert async_host.manager is not None
    return async_host.manager.get_instance(AsyncWireServiceImpl).sleeps


@pytest.mark.parametrize(
    ("container", "setting", "engine"),
    [
        (PureAsyncHost, "auto", AsyncioEngine),
        (AsyncHost, "auto", HttpEngine),  # one `def` method is enough
        (ServerContainer, "auto", HttpEngine),  # wire-test's methods are `def`
        (PureAsyncHost, "threads", HttpEngine),
        (ServerContainer, "asyncio", AsyncioEngine),
    ],
    ids=["async-only-auto", "one-def-auto", "sync-auto", "async-only-threads", "sync-asyncio"],
)
def test_http_server_chooses_the_engine(container, setting, engine):
    """auto: asyncio when every hosted method is async def, else threads; threads or asyncio force it."""
    server = boot(container(), server=setting)
    try:
        assert type(server.engine) is engine
    finally:
        server.shutdown()


def test_async_and_sync_methods_are_answered_on_the_asyncio_engine(async_host):
    """Awaited calls through both codecs, and the def method beside them, from a sync caller too."""
    manager = client_manager(f"http://127.0.0.1:{async_host.port}")
    payload = make_payload()

    async def calls() -> list[Any]:
        results = []
        for channel in ("dispatch-json", "dispatch-msgpack"):
            proxy = manager.get_service(AsyncWireService, channel)
            results += await asyncio.gather(*(proxy.hello(f"call {i}") for i in range(20)))
            results.append(await proxy.echo(payload) == payload)
        return results

    try:
        results = asyncio.run(calls())
        assert manager.get_service(AsyncWireService, "dispatch-msgpack").add(2, 3) == 5
    finally:
        manager.close()
    assert results == [*(f"call {i}" for i in range(20)), True] * 2


def test_health_report_and_describe_are_served(async_host):
    """The operator routes answer on the asyncio engine as on the threaded one."""
    url = f"http://127.0.0.1:{async_host.port}"
    health = requests.get(f"{url}/health/async-wire-component", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "OK"
    assert (
        requests.get(f"{url}/describe/async-wire-component", timeout=5).status_code == 401
    )  # needs a caller
    assert requests.get(f"{url}/nothing-here", timeout=5).status_code == 404


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_caller_that_goes_away_cancels_the_coroutine(async_host, sleeps):
    """The caller cancels its task: its connection closes and the server's coroutine is cancelled."""
    manager = client_manager(f"http://127.0.0.1:{async_host.port}")
    before = len(sleeps)

    async def give_up() -> None:
        task = asyncio.ensure_future(manager.get_service(AsyncWireService, "dispatch-msgpack").sleep(30))
        while len(sleeps) == before:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(give_up())
    finally:
        manager.close()
    assert wait_for(lambda: sleeps[before:] == ["started", "cancelled"]), sleeps[before:]


def test_a_deadline_cancels_the_coroutine_on_both_sides(async_host, sleeps):
    """A 0.5 s deadline: the caller gets ServiceTimeoutException, the server cancels its coroutine.

    On a busy machine the request can reach the server after its deadline; the server then
    answers 504 without starting the coroutine, which is as good.
    """
    manager = client_manager(f"http://127.0.0.1:{async_host.port}")
    before = len(sleeps)
    try:
        with pytest.raises(ServiceTimeoutException), call_options(timeout=0.5):
            asyncio.run(manager.get_service(AsyncWireService, "dispatch-msgpack").sleep(30))
    finally:
        manager.close()
    stopped = wait_for(lambda: sleeps[before:] == ["started", "cancelled"])
    assert stopped or sleeps[before:] == [], sleeps[before:]


def test_shutdown_lets_the_calls_in_flight_finish():
    """A call running when shutdown starts is answered; the server then closes."""
    server = boot(AsyncHost())
    manager = client_manager(f"http://127.0.0.1:{server.port}")
    answers: list[Any] = []

    def call() -> None:
        answers.append(asyncio.run(manager.get_service(AsyncWireService, "dispatch-msgpack").sleep(0.5)))

    thread = threading.Thread(target=call)
    thread.start()
    assert server.manager is not None
    sleeps = server.manager.get_instance(AsyncWireServiceImpl).sleeps
    try:
        assert wait_for(lambda: sleeps == ["started"])
        server.shutdown()
        thread.join(10)
    finally:
        manager.close()
    assert answers == [0.5] and sleeps == ["started", "finished"]
