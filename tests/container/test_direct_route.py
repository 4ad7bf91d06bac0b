"""The direct route of in-process calls: what a call keeps when it skips the Invocation and the chain.

A channel whose in-process transport offers a runner (``InProcessTransport.direct_runner``) sends
the calls of a ``def`` method straight to it while the channel has one URL with nothing cooling,
no client interceptor and no open ``last_response`` block. These tests pin what such a call
keeps: its context inside the implementation, the deadline its nested calls inherit (through
context variables, also in threads and event loops the implementation starts), the in-flight
count the drain waits for, the refusal once the server stops taking calls, the cool-down of a
URL that fails; and which calls leave the route (interceptors, a ``last_response`` block, a
cooling URL), or never take it (a transport without the hook). The transport below is the
``local`` channel's, counting which way each call went, as a third-party plugin could.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from dependency_injector import containers, providers

from channels.inproc import LocalChannel, LocalListener, LocalTransport
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    ListenerlessServer,
    Service,
    ServiceContainer,
    ServiceManager,
    ServiceUnavailableException,
    call_context,
    call_options,
    channel,
    channel_of,
    component,
    implementation,
    last_response,
    service,
    set_response_metadata,
)
from container.plugin import InProcessTransport, Invocation, Settings

NAME = "direct-route-counting"
PLAIN = "direct-route-plain"


@service(name="dr-probe")
class ProbeService(Service):
    """What a served call sees of itself."""

    @abstractmethod
    def seen(self, label: str) -> dict[str, str]:
        """Return the label, the time left of the call (ms) and its ``tenant`` metadata."""

    @abstractmethod
    def relay(self, label: str) -> dict[str, str]:
        """Return what a nested call of ``seen`` through the same channel saw."""

    @abstractmethod
    def answer(self, value: str) -> str:
        """Answer with the response metadata ``x-answer: value``; return ``value``."""

    @abstractmethod
    def elsewhere(self) -> dict[str, str]:
        """Return what ``seen`` saw when called from a thread and from an event loop started here."""

    @abstractmethod
    def hold(self) -> str:
        """Wait until the test releases the call."""


@component(name="dr-probe-component", services=[ProbeService])
class ProbeComponent(Component):
    """Hosts the probe."""


def _seen(label: str) -> dict[str, str]:
    context = call_context()
    if context is None:
        return {"label": label, "served": "no"}
    left = context.time_remaining()
    return {
        "label": label,
        "left-ms": "none" if left is None else str(int(left * 1000)),
        "tenant": context.metadata.get("tenant", "-"),
    }


@implementation()
class ProbeServiceImpl(ProbeService):
    def __init__(self, manager: ServiceManager) -> None:
        self.manager = manager
        self.runs = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def seen(self, label: str) -> dict[str, str]:
        self.runs += 1
        return _seen(label)

    def relay(self, label: str) -> dict[str, str]:
        self.runs += 1
        return self.manager.proxy(ProbeService, NAME).seen(label)

    def answer(self, value: str) -> str:
        self.runs += 1
        set_response_metadata({"x-answer": value})
        return value

    def elsewhere(self) -> dict[str, str]:
        self.runs += 1
        found: dict[str, str] = {}
        copied = contextvars.copy_context()
        thread = threading.Thread(target=lambda: found.update(copied.run(_seen, "thread")))
        thread.start()
        thread.join()

        async def in_a_task() -> dict[str, str]:
            return await asyncio.get_running_loop().create_task(_in_task())

        async def _in_task() -> dict[str, str]:
            return _seen("task")

        task = asyncio.run(in_a_task())
        bare: dict[str, str] = {}
        plain = threading.Thread(target=lambda: bare.update(_seen("plain-thread")))
        plain.start()
        plain.join()
        return {
            "thread": found["left-ms"],
            "task": task["left-ms"],
            "plain-thread": bare["served"],
            "here": _seen("here")["left-ms"],
        }

    def hold(self) -> str:
        self.runs += 1
        self.entered.set()
        self.release.wait(10)
        return "released"


@implementation()
class ProbeComponentImpl(AbstractComponent, ProbeComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress(NAME, "inproc://0"), ChannelAddress(PLAIN, "inproc://0")]


class CountingTransport(LocalTransport):
    """The ``local`` channel's transport, counting which way each call went; ``down`` fails all."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.through_call = 0
        self.direct = 0
        self.down = False

    def call(self, url: str, invocation: Invocation) -> Any:
        self.through_call += 1
        if self.down:
            raise ServiceUnavailableException("down for the test", url)
        return super().call(url, invocation)

    def direct_runner(self, url: str, method: Any) -> Callable[..., Any] | None:
        run = super().direct_runner(url, method)
        if run is None:
            return None

        def counted(context: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            self.direct += 1
            if self.down:
                raise ServiceUnavailableException("down for the test", url)
            return run(context, args, kwargs)

        return counted


class CountingListener(LocalListener):
    """The ``local`` listener, registering its URL under the counting channel's name."""

    made: ClassVar[list[CountingListener]] = []

    def __init__(self, dispatcher: Any, settings: Settings) -> None:
        super().__init__(dispatcher, settings)
        CountingListener.made.append(self)

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        return ChannelAddress(NAME, super().listen(address).uri)


@channel(NAME)
class CountingChannel(LocalChannel):
    """The in-process channel with the counting transport."""

    transport = CountingTransport
    listener = CountingListener


class PlainTransport(InProcessTransport):
    """A third-party in-process transport written before the hook: ``call`` only."""

    calls = 0

    def call(self, url: str, invocation: Invocation) -> Any:
        PlainTransport.calls += 1
        dispatcher = self.settings.runtime.addresses.lookup(url)
        if dispatcher is None:
            raise ServiceUnavailableException(f"nothing at {url}", url)
        return dispatcher.call_local(invocation, url)


class PlainListener(LocalListener):
    def listen(self, address: ChannelAddress) -> ChannelAddress:
        return ChannelAddress(PLAIN, super().listen(address).uri)


@channel(PLAIN)
class PlainChannel(LocalChannel):
    """An in-process channel whose transport has no direct runner."""

    transport = PlainTransport
    listener = PlainListener


CONFIG: dict[str, Any] = {
    "registry": {"type": "static"},
    "components": {"dr-probe-component": {"timeout": 30, "methods": {"relay": {"timeout": 0.5}}}},
}


def host(interceptors: list[Any] | None = None) -> type[containers.DeclarativeContainer]:
    class Host(containers.DeclarativeContainer):
        services = providers.Container(
            ServiceContainer,
            config=providers.Object(CONFIG),
            client_interceptors=providers.List(*(providers.Object(i) for i in interceptors or [])),
        )
        probe = providers.Singleton(ProbeServiceImpl, manager=services.service_manager)

    return Host


@pytest.fixture
def server() -> Iterator[ListenerlessServer]:
    booted = ListenerlessServer()
    booted.boot(host()())
    yield booted
    booted.shutdown(timeout=5)


def parts(server: ListenerlessServer) -> tuple[Any, CountingTransport, ProbeServiceImpl]:
    manager = server.manager
    assert manager is not None
    proxy = manager.proxy(ProbeService, NAME)
    transport = manager.transport_for(CountingChannel)
    assert isinstance(transport, CountingTransport)
    return proxy, transport, manager.get_service(ProbeService)


def test_a_call_on_the_direct_route_keeps_its_context(server):
    """call_context() inside shows the call's deadline and call_options' metadata; no Invocation made."""
    proxy, transport, _ = parts(server)
    seen = proxy.seen("plain")
    assert 25_000 < int(seen["left-ms"]) <= 30_000 and seen["tenant"] == "-"
    with call_options(timeout=2, metadata={"tenant": "acme"}):
        seen = proxy.seen("options")
    assert 1_000 < int(seen["left-ms"]) <= 2_000 and seen["tenant"] == "acme"
    assert (transport.direct, transport.through_call) == (2, 0)
    assert call_context() is None, "the served call ended with the call"


def test_a_nested_call_on_the_direct_route_inherits_the_deadline(server):
    """relay (0.5 s) calls seen (30 s by default) through the same channel: seen gets relay's deadline."""
    proxy, transport, _ = parts(server)
    seen = proxy.relay("nested")
    assert seen["label"] == "nested" and 0 < int(seen["left-ms"]) <= 500
    assert (transport.direct, transport.through_call) == (2, 0)


def test_threads_and_event_loops_started_by_the_implementation_see_the_served_call(server):
    """Context variables carry the served call into a copied context's thread and a task, not elsewhere."""
    proxy, transport, _ = parts(server)
    with call_options(timeout=3):
        seen = proxy.elsewhere()
    assert all(0 < int(seen[where]) <= 3_000 for where in ("thread", "task", "here"))
    assert seen["plain-thread"] == "no"
    assert transport.direct == 1


def test_concurrent_callers_each_see_their_own_call(server):
    """Calls of several threads on one proxy each see their own options, never another thread's."""
    proxy, transport, _ = parts(server)
    wrong: list[str] = []

    def caller(tenant: str) -> None:
        for _ in range(200):
            with call_options(metadata={"tenant": tenant}):
                if proxy.seen(tenant)["tenant"] != tenant:
                    wrong.append(tenant)

    threads = [threading.Thread(target=caller, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and transport.direct == 800


def test_a_last_response_block_reads_the_answer_on_the_whole_path(server):
    """Inside a last_response block the call goes through call(); the answer's metadata arrives."""
    proxy, transport, _ = parts(server)
    assert proxy.answer("unread") == "unread", "metadata nobody reads is no error"
    with last_response() as response:
        assert proxy.answer("read") == "read"
    assert response.metadata == {"x-answer": "read"} and response.calls == 1
    assert response.url == channel_of(proxy).address.urls[0]
    assert (transport.direct, transport.through_call) == (1, 1)


def test_client_interceptors_turn_the_direct_route_off():
    """With a client interceptor every call is an Invocation with its context, through call()."""
    invocations: list[Invocation] = []

    def record(call: Any, call_next: Any) -> Any:
        invocations.append(call)
        return call_next(call)

    booted = ListenerlessServer()
    booted.boot(host([record])())
    try:
        proxy, transport, _ = parts(booted)
        with call_options(metadata={"tenant": "acme"}):
            assert proxy.seen("intercepted")["tenant"] == "acme"
        assert (transport.direct, transport.through_call) == (0, 1)
        (invocation,) = invocations
        assert isinstance(invocation, Invocation) and invocation.args == ("intercepted",)
        assert invocation.context.metadata == {"tenant": "acme"} and invocation.context.deadline is not None
    finally:
        booted.shutdown(timeout=5)


def test_a_url_that_fails_cools_down_and_the_route_comes_back_when_it_answers(server):
    """A failure on the direct route cools the URL down; calls take the whole path until it answers."""
    proxy, transport, probe = parts(server)
    proxy.seen("up")
    url = channel_of(proxy).address.urls[0]
    transport.down = True
    with pytest.raises(ServiceUnavailableException) as failure:
        proxy.seen("down")
    assert failure.value.sent is False
    assert url in channel_of(proxy).attempts.cooling
    assert (transport.direct, transport.through_call) == (2, 0)
    with pytest.raises(ServiceUnavailableException):
        proxy.seen("still down")
    assert (transport.direct, transport.through_call) == (2, 1), "a cooling URL: the whole path"
    transport.down = False
    assert proxy.seen("answers again")["label"] == "answers again"
    assert (transport.direct, transport.through_call) == (2, 2)
    assert url not in channel_of(proxy).attempts.cooling
    proxy.seen("direct again")
    assert (transport.direct, transport.through_call) == (3, 2)
    assert probe.runs == 3


def test_a_server_that_stops_taking_calls_refuses_direct_calls_unrun(server):
    """After stop_taking_calls a direct call fails with sent False, and the implementation does not run."""
    proxy, transport, probe = parts(server)
    proxy.seen("before")
    assert server.dispatcher is not None
    server.dispatcher.stop_taking_calls()
    with pytest.raises(ServiceUnavailableException) as refused:
        proxy.seen("after")
    assert refused.value.sent is False and "shutting down" in str(refused.value)
    assert probe.runs == 1 and transport.direct == 2


def test_a_direct_call_counts_in_flight_for_the_drain(server):
    """While a direct call runs the dispatcher counts it, so a shutdown waits for it."""
    proxy, transport, probe = parts(server)
    assert server.dispatcher is not None
    results: list[str] = []
    caller = threading.Thread(target=lambda: results.append(proxy.hold()))
    caller.start()
    assert probe.entered.wait(5)
    assert server.dispatcher.in_flight == 1
    probe.release.set()
    caller.join(5)
    assert results == ["released"] and server.dispatcher.in_flight == 0 and transport.direct == 1


def test_a_listener_that_stops_being_reachable_stops_its_direct_calls(server):
    """The local listener's stop_accepting makes direct calls to its URL fail over, as call() would."""
    proxy, transport, probe = parts(server)
    proxy.seen("before")
    assert transport.direct == 1
    listener = CountingListener.made[-1]  # the server's, made when it booted
    assert listener.dispatcher is server.dispatcher
    listener.stop_accepting()
    with pytest.raises(ServiceUnavailableException) as refused:
        proxy.seen("after")
    assert refused.value.sent is False and "nothing in this runtime listens" in str(refused.value)
    assert probe.runs == 1


def test_a_transport_without_the_hook_serves_every_call_through_call(server):
    """A third-party InProcessTransport with call() only keeps working, context and answers included."""
    manager = server.manager
    assert manager is not None
    proxy = manager.proxy(ProbeService, PLAIN)
    before = PlainTransport.calls
    with call_options(timeout=2, metadata={"tenant": "acme"}):
        seen = proxy.seen("plain")
    assert 1_000 < int(seen["left-ms"]) <= 2_000 and seen["tenant"] == "acme"
    with last_response() as response:
        assert proxy.answer("read") == "read"
    assert response.metadata == {"x-answer": "read"}
    assert PlainTransport.calls - before == 2
