"""Async methods: declared, proxied, served and bridged on the same pipeline as sync ones.

The calls go through the ``local`` channel (in process: the implementation runs on the caller's
loop), through a transport of the tests' own (failover and the thread-pool fallback), and
through the dispatcher as a listener would call it (its own loop, handle_async, cancellation).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import containers, providers

from container import (
    BlockingCallException,
    CallInterruptedException,
    Channel,
    ConfigurationException,
    ListenerlessServer,
    RemoteServiceException,
    Runtime,
    ServiceContainer,
    ServiceManager,
    ServiceTimeoutException,
    ServiceUnavailableException,
    UnauthenticatedException,
    call_blocking,
    call_in_thread,
    call_options,
    descriptor_of,
    implementation,
    last_response,
)
from container.plugin import (
    MSGPACK_CODEC,
    Cancellation,
    Interceptor,
    Request,
    Response,
    ServerRequest,
    Transport,
    URLShape,
)
from container.testing import wait_until

from .async_services import (
    AwaitedHealthApp,
    AwaitedHealthComponentImpl,
    MixedApp,
    MixedChecks,
    MixedError,
    MixedService,
    MixedServiceImpl,
)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture
def server() -> Iterator[ListenerlessServer]:
    """A server hosting the mixed service on the local channel."""
    booted = ListenerlessServer()
    booted.boot(MixedApp())
    yield booted
    booted.shutdown(timeout=5)


@pytest.fixture
def mixed(server: ListenerlessServer) -> MixedService:
    """A proxy of the mixed service through the local channel (as a remote caller calls it)."""
    assert server.manager is not None
    return server.manager.proxy(MixedService, "local")


def implementation_of(server: ListenerlessServer) -> MixedServiceImpl:
    assert server.manager is not None
    found = server.manager.get_service(MixedService)
    assert isinstance(found, MixedServiceImpl)
    return found


# declarations and proxies


def test_async_and_sync_methods_live_in_one_interface_each_keeping_its_way(mixed):
    """An `async def` method's proxy method is a coroutine function; a `def` one's is not."""
    methods = descriptor_of(MixedService).methods  # type: ignore[attr-defined]
    assert methods["double"].is_async and not methods["add"].is_async
    assert inspect.iscoroutinefunction(mixed.double) and not inspect.iscoroutinefunction(mixed.add)
    assert list(inspect.signature(mixed.double).parameters) == ["value"]
    assert mixed.add(2, 3) == 5
    assert run(mixed.double(21)) == 42


def test_the_local_shortcut_returns_the_implementation_itself(server):
    """get_service of a hosted service on "local" is the implementation: its async methods are awaited."""
    found = implementation_of(server)
    assert type(found) is MixedServiceImpl
    assert run(found.double(4)) == 8


def test_an_implementation_that_changes_a_methods_way_is_refused_naming_it():
    """An `async def` interface method implemented with `def` is refused when the container is made."""

    @implementation()
    class Hurried(MixedServiceImpl):
        def double(self, value: int) -> int:  # type: ignore[override]
            return 2 * value

    class App(containers.DeclarativeContainer):
        services = providers.Container(ServiceContainer, config={"registry": {"type": "static"}})
        mixed = providers.Singleton(Hurried)

    with pytest.raises(ConfigurationException) as info:
        App().services.service_manager()
    assert "Hurried.double is `def`, MixedService.double is `async def`" in str(info.value)


# awaited calls through the local channel


def test_an_awaited_call_carries_metadata_both_ways_and_follows_the_error_rules(mixed):
    """Metadata arrives and comes back; an application error is raised as itself, others hidden."""

    async def calls() -> tuple[dict[str, str], dict[str, str]]:
        with call_options(metadata={"tenant": "acme"}), last_response() as answered:
            seen = await mixed.echo_context()
        with pytest.raises(MixedError) as info:
            await mixed.fail("pens")
        assert info.value.item == "pens"
        with pytest.raises(RemoteServiceException) as hidden:
            await mixed.crash()
        assert hidden.value.remote_type == "builtins.KeyError"
        assert "a secret detail" not in hidden.value.remote_message
        return seen, dict(answered.metadata)

    seen, answered = run(calls())
    assert seen["tenant"] == "acme" and answered == {"answered": "yes"}


def test_the_deadline_of_an_awaited_call_cancels_the_implementation(server, mixed):
    """At the deadline the caller gets ServiceTimeoutException and the implementation sees CancelledError."""

    async def call() -> None:
        with call_options(timeout=0.5):
            await mixed.sleep(30, "deadline")

    started = time.monotonic()
    with pytest.raises(ServiceTimeoutException) as info:
        run(call())
    assert info.value.limit == "deadline" and time.monotonic() - started < 2.0
    assert implementation_of(server).notes("deadline") == ["started", "cancelled"]


def test_cancelling_the_awaiting_task_cancels_the_implementation(server, mixed):
    """A caller that cancels its task cancels the call; the implementation sees CancelledError."""

    async def call_then_cancel() -> None:
        task = asyncio.ensure_future(mixed.sleep(30, "cancel"))
        while "started" not in implementation_of(server).notes("cancel"):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(call_then_cancel())
    assert implementation_of(server).notes("cancel") == ["started", "cancelled"]


# interceptors


EVENTS: list[str] = []


class BothWays(Interceptor):
    """Says which way it ran, on which side."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        EVENTS.append(f"sync:{call.side}:{call.name}")
        return call_next(call)

    async def intercept_async(self, call: Any, call_next: Any) -> Any:
        EVENTS.append(f"async:{call.side}:{call.name}")
        return await call_next(call)


class SyncOnly(Interceptor):
    """A sync-only interceptor: on async methods it runs in a thread of its own."""

    def intercept(self, call: Any, call_next: Any) -> Any:
        EVENTS.append(f"thread:{call.side}:{threading.current_thread().name}")
        result = call_next(call.with_metadata({f"stamped-{call.side}": "yes"}))
        EVENTS.append(f"after:{call.side}:{result!r}")
        return result


async def async_function(call: Any, call_next: Any) -> Any:
    """An async function interceptor: async methods only."""
    EVENTS.append(f"function:{call.side}:{call.name}")
    return await call_next(call)


def boot_with(client: list[Any], server_side: list[Any]) -> ListenerlessServer:
    server = ListenerlessServer()
    server.boot(
        MixedApp(
            client_interceptors=providers.List(*map(providers.Object, client)),
            server_interceptors=providers.List(*map(providers.Object, server_side)),
        )
    )
    return server


def test_an_interceptor_runs_its_sync_side_for_def_methods_and_its_async_side_for_async_ones():
    EVENTS.clear()
    server = boot_with([BothWays()], [BothWays()])
    try:
        assert server.manager is not None
        mixed = server.manager.proxy(MixedService, "local")
        assert mixed.add(1) == 2
        assert run(mixed.double(1)) == 2
    finally:
        server.shutdown(timeout=5)
    assert EVENTS == [
        "sync:client:add",
        "sync:server:add",
        "async:client:double",
        "async:server:double",
    ]


def test_a_sync_only_interceptor_wraps_async_methods_from_a_thread_of_its_own():
    """It runs off the loop, its changed call goes on, and it sees the result, on both sides."""
    EVENTS.clear()
    server = boot_with([SyncOnly()], [SyncOnly()])
    try:
        assert server.manager is not None
        mixed = server.manager.proxy(MixedService, "local")
        seen = run(mixed.echo_context())
    finally:
        server.shutdown(timeout=5)
    assert seen["stamped-client"] == seen["stamped-server"] == "yes", "both changed calls went on"
    threads = [event for event in EVENTS if event.startswith("thread:")]
    assert len(threads) == 2 and all("servicewire-hops" in event for event in threads)
    assert [e.split(":")[1] for e in EVENTS if e.startswith("after:")] == ["server", "client"]


def test_an_async_only_interceptor_on_a_def_method_is_refused_naming_both():
    """`async def f(call, call_next)` cannot wrap `add`: the chain is refused when it is compiled."""
    server = boot_with([async_function], [])
    try:
        assert server.manager is not None
        with pytest.raises(ConfigurationException) as info:
            server.manager.proxy(MixedService, "local")
        message = str(info.value)
        assert "the interceptor async_function is async only" in message
        assert "as-mixed-component/as-mixed/add" in message
    finally:
        server.shutdown(timeout=5)


def test_the_auth_guard_and_credentials_work_on_async_methods():
    """The bearer guard refuses an awaited call without its token and names the caller with it."""
    config = {"registry": {"type": "static"}, "auth": {"bearer": {"tokens": {"t-1": {"subject": "ann"}}}}}
    server = ListenerlessServer()
    server.boot(MixedApp(config=providers.Configuration(default=config)))
    try:
        assert server.manager is not None
        runtime = server.manager.runtime
        component = descriptor_of(MixedService).component_descriptor  # type: ignore[attr-defined]
        offered = server.manager.component_registry.get_addresses(component)
        local = next(a for a in offered if a.channel == "local").urls

        def client(credentials: dict[str, str] | None) -> ServiceManager:
            settings: dict[str, Any] = {
                "registry": {"type": "static", "components": {"as-mixed-component": {"local": local}}}
            }
            if credentials is not None:
                settings["auth"] = {"credentials": credentials}
            return ServiceContainer(
                config=providers.Object(settings), runtime=providers.Object(runtime)
            ).service_manager()

        anonymous, ann = client(None), client({"token": "t-1"})
        try:
            with pytest.raises(UnauthenticatedException):
                run(anonymous.get_service(MixedService, "local").double(1))
            assert run(ann.get_service(MixedService, "local").echo_context())["caller"] == "ann"
        finally:
            anonymous.close()
            ann.close()
    finally:
        server.shutdown(timeout=5)


# failover and the thread-pool fallback, through a transport of the tests' own

SENT: list[tuple[str, str]] = []


class ScriptedTransport(Transport):
    """Answers by URL: ``down://`` sends nothing, ``broken://`` breaks after sending, ``up://`` answers."""

    answer = Response(200, MSGPACK_CODEC.encode({"result": 84}), MSGPACK_CODEC.content_type)
    place = Response(200, MSGPACK_CODEC.encode({"result": {"scripted": True}}), MSGPACK_CODEC.content_type)

    def send(self, url: str, request: Request) -> Response:
        SENT.append(("send", threading.current_thread().name))
        return self._answer(url, request)

    def _answer(self, url: str, request: Request) -> Response:
        if url.startswith("down://"):
            raise ServiceUnavailableException("nothing listens", url)
        if url.startswith("broken://"):
            raise CallInterruptedException("broke after sending", url)
        return self.place if request.path.endswith("/where") else self.answer


class AsyncScriptedTransport(ScriptedTransport):
    async def send_async(self, url: str, request: Request) -> Response:
        SENT.append(("send_async", url))
        await asyncio.sleep(0)
        return self._answer(url, request)


class ScriptedChannel(Channel):
    name = "as-scripted"
    codec = MSGPACK_CODEC
    schemes = ("down", "broken", "up")
    url_shapes = (URLShape.OPAQUE,)
    transport = AsyncScriptedTransport


class FallbackChannel(ScriptedChannel):
    name = "as-fallback"
    transport = ScriptedTransport


def scripted(channel: type[Channel], urls: list[str]) -> ServiceManager:
    runtime = Runtime()
    runtime.channels.register(channel.name, channel)
    config = {
        "registry": {"type": "static", "components": {"as-mixed-component": {channel.name: urls}}},
        "components": {"as-mixed-component": {"selector": "first", "cooldown": 0}},
    }
    made = ServiceContainer(config=providers.Object(config), runtime=providers.Object(runtime))
    return made.service_manager()


def test_an_awaited_call_fails_over_when_nothing_was_sent():
    SENT.clear()
    manager = scripted(ScriptedChannel, ["down://a", "up://b"])
    try:
        assert run(manager.get_service(MixedService, ScriptedChannel.name).double(42)) == 84
    finally:
        manager.close()
    assert SENT == [("send_async", "down://a"), ("send_async", "up://b")]


def test_an_awaited_call_that_may_have_run_goes_elsewhere_only_when_idempotent():
    """At most once: `double` is not retried after a broken exchange; the idempotent `where` is."""
    SENT.clear()
    manager = scripted(ScriptedChannel, ["broken://a", "up://b"])
    try:
        proxy = manager.get_service(MixedService, ScriptedChannel.name)
        with pytest.raises(CallInterruptedException):
            run(proxy.double(42))
        assert SENT == [("send_async", "broken://a")]
        assert run(proxy.where()) == {"scripted": True}, "an idempotent method goes on to the next URL"
    finally:
        manager.close()


def test_a_transport_without_send_async_is_run_in_the_runtimes_thread_pool():
    SENT.clear()
    manager = scripted(FallbackChannel, ["up://only"])
    try:
        assert run(manager.get_service(MixedService, FallbackChannel.name).double(42)) == 84
    finally:
        manager.close()
    assert len(SENT) == 1 and SENT[0][0] == "send" and SENT[0][1].startswith("servicewire-pool")


# the dispatcher as listeners call it


@pytest.fixture
def dispatched(server: ListenerlessServer) -> Any:
    assert server.manager is not None and server.dispatcher is not None
    return server.dispatcher


def request(method: str, *args: Any, timeout_ms: int | None = None, **kwargs: Any) -> ServerRequest:
    metadata = {"sw-timeout-ms": str(timeout_ms)} if timeout_ms is not None else {}
    body = MSGPACK_CODEC.encode({"args": list(args), "kwargs": kwargs})
    return ServerRequest(f"as-mixed-component/as-mixed/{method}", body, MSGPACK_CODEC.content_type, metadata)


def result_of(response: Response) -> Any:
    assert response.status == 200, MSGPACK_CODEC.decode(response.body)
    return MSGPACK_CODEC.decode(response.body)["result"]


def test_handle_runs_async_implementations_on_one_event_loop_of_the_dispatcher(dispatched):
    """Calls of async methods from a sync listener run on the dispatcher's one loop, off its thread."""
    assert dispatched.is_async("as-mixed-component/as-mixed/where")
    assert not dispatched.is_async("as-mixed-component/as-mixed/add")
    places = [result_of(dispatched.handle(request("where"))) for _ in range(3)]
    assert len({place["loop"] for place in places}) == 1
    assert {place["thread"] for place in places} == {"servicewire-dispatcher"}


def test_handle_async_runs_async_methods_on_the_running_loop_and_def_methods_in_the_worker_pool(dispatched):
    async def both() -> tuple[dict[str, Any], int, int]:
        place = result_of(await dispatched.handle_async(request("where")))
        added = result_of(await dispatched.handle_async(request("add", 2)))
        return place, id(asyncio.get_running_loop()), added

    place, loop, added = run(both())
    assert place["loop"] == loop and added == 3


def test_the_server_side_deadline_cancels_an_async_implementation_with_504(server, dispatched):
    started = time.monotonic()
    response = dispatched.handle(request("sleep", 30, "504", timeout_ms=200))
    assert response.status == 504 and time.monotonic() - started < 1.5
    assert implementation_of(server).notes("504") == ["started", "cancelled"]


def test_a_listeners_cancellation_cancels_the_async_implementation(server, dispatched):
    """A listener that reports its caller gone (Cancellation) stops the call's coroutine."""
    cancellation = Cancellation()
    answered: list[Response] = []
    worker = threading.Thread(
        target=lambda: answered.append(
            dispatched.handle(
                ServerRequest(**{**_fields(request("sleep", 30, "gone")), "cancellation": cancellation})
            )
        )
    )
    worker.start()
    assert wait_until(lambda: implementation_of(server).notes("gone") == ["started"], timeout=5)
    cancellation.cancel()
    worker.join(timeout=5)
    assert answered and answered[0].status == 500
    assert MSGPACK_CODEC.decode(answered[0].body)["error"]["type"] == "Cancelled"
    assert wait_until(lambda: implementation_of(server).notes("gone") == ["started", "cancelled"], timeout=5)


def _fields(found: ServerRequest) -> dict[str, Any]:
    return {name: getattr(found, name) for name in found.__struct_fields__}


# health


def test_async_health_checks_run_beside_sync_ones_both_ways(dispatched):
    """An `async def` health check is awaited; a failing one makes the component's health 503."""
    document = json.loads(dispatched.health("as-mixed-component").body)
    assert document["status"] == "OK"
    assert {check["name"] for check in document["checks"]} == {"remote_store", "disk"}
    MixedChecks.verdict = MixedChecks.verdict.ERROR
    try:
        assert dispatched.health("as-mixed-component").status == 503
        assert run(dispatched.health_async("as-mixed-component")).status == 503
    finally:
        MixedChecks.verdict = MixedChecks.verdict.OK


def test_an_async_get_health_is_awaited():
    """A component whose get_health is `async def` (as in the seed API) reports what it returns."""
    server = ListenerlessServer()
    server.boot(AwaitedHealthApp())
    try:
        assert server.dispatcher is not None
        assert server.dispatcher.health("as-awaited-health-component").status == 200
        AwaitedHealthComponentImpl.healthy = False
        assert server.dispatcher.health("as-awaited-health-component").status == 503
        assert run(server.dispatcher.health_async("as-awaited-health-component")).status == 503
    finally:
        AwaitedHealthComponentImpl.healthy = True
        server.shutdown(timeout=5)


# bridges


def test_call_blocking_runs_async_methods_for_sync_code_on_one_background_loop(mixed):
    """A script calls async methods without a loop of its own; its call options apply."""
    places = [call_blocking(mixed.where) for _ in range(3)]
    assert len({place["loop"] for place in places}) == 1
    assert {place["thread"] for place in places} == {"servicewire-async"}
    assert call_blocking(mixed.double, 5) == 10
    assert call_blocking(mixed.add, 1, b=2) == 3, "a def method is simply called"
    with pytest.raises(ServiceTimeoutException), call_options(timeout=0.1):
        call_blocking(mixed.sleep, 30, "blocking")


def test_call_blocking_inside_an_event_loop_is_refused_saying_what_to_do(mixed):
    async def misuse() -> None:
        call_blocking(mixed.double, 1)

    with pytest.raises(BlockingCallException, match="await the async method instead"):
        run(misuse())


def test_call_in_thread_runs_def_methods_without_blocking_the_loop(mixed):
    """Two slow sync calls run at once in the pool while the loop goes on ticking."""

    async def calls() -> tuple[list[float], int, float]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        results = await asyncio.gather(call_in_thread(mixed.pause, 0.3), call_in_thread(mixed.pause, 0.3))
        spent = time.monotonic() - started
        ticker.cancel()
        return list(results), ticks, spent

    results, ticks, spent = run(calls())
    assert results == [0.3, 0.3]
    assert spent < 0.55, "the two calls ran at once"
    assert ticks >= 10, "the loop kept running meanwhile"
    assert run(call_in_thread(mixed.double, 4)) == 8, "an async method is simply awaited"


def test_a_slow_async_health_check_is_cancelled_at_its_limit():
    """An `async def` check over its fail_if_slower_than is stopped there and reported as ERROR."""
    from container import HealthStatus, health_check
    from container.declarations._health import HealthCheckManager

    stopped: list[str] = []

    class Slow:
        @health_check(fail_if_slower_than=0.1)
        async def hanging(self) -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                stopped.append("hanging")
                raise

    started = time.monotonic()
    health = HealthCheckManager.build([Slow], lambda cls: cls()).check()
    assert time.monotonic() - started < 2
    assert health.status == HealthStatus.ERROR and stopped == ["hanging"]
    assert health.results[0].details == "did not finish within 0.1s; cancelled"


CLOSED: list[str] = []


class ClosingTransport(AsyncScriptedTransport):
    """Says how it was closed."""

    async def aclose(self) -> None:
        CLOSED.append(f"aclose on a loop: {asyncio.get_running_loop() is not None}")

    def close(self) -> None:
        CLOSED.append("close")


class ClosingChannel(ScriptedChannel):
    name = "as-closing"
    transport = ClosingTransport


def test_aclose_closes_transports_on_the_running_loop_then_the_rest():
    """ServiceManager.aclose awaits each transport's aclose, then closes what close() closes."""
    CLOSED.clear()
    manager = scripted(ClosingChannel, ["up://only"])
    assert run(manager.get_service(MixedService, ClosingChannel.name).double(42)) == 84

    async def close() -> None:
        await manager.aclose()

    run(close())
    assert CLOSED == ["aclose on a loop: True", "close"] and manager.closed


def test_a_runtimes_workers_start_on_first_use_and_stop_with_it():
    """call_blocking starts the runtime's background loop; runtime.close() stops it and its pools."""
    runtime = Runtime()
    workers = runtime.workers
    assert not workers.background.running
    assert workers.run(asyncio.sleep(0, "slept")) == "slept"
    assert workers.background.running
    runtime.close()
    assert not workers.background.running
    assert workers.run(asyncio.sleep(0, "again")) == "again", "it starts again when used after"
    runtime.close()


def test_the_deadlines_of_a_loop_share_one_timer_and_each_expires_in_time():
    """Many finished deadlines, then tasks whose deadlines differ: each times out at its own."""
    from container.call._aio import Deadline

    async def bounded(seconds: float, sleep: float) -> str:
        try:
            with Deadline(time.monotonic() + seconds, ServiceTimeoutException, "u", "deadline", seconds):
                await asyncio.sleep(sleep)
        except ServiceTimeoutException:
            return f"timed out after {seconds}"
        return "in time"

    async def many() -> tuple[list[str], list[tuple[float, float]]]:
        assert [await bounded(30, 0) for _ in range(600)] == ["in time"] * 600  # the heap is rebuilt
        started = time.monotonic()
        finished: list[tuple[float, float]] = []

        async def timed(seconds: float) -> str:
            outcome = await bounded(seconds, 5)
            finished.append((seconds, time.monotonic() - started))
            return outcome

        outcomes = await asyncio.gather(timed(0.3), timed(0.1), timed(0.2))
        return list(outcomes), finished

    outcomes, finished = run(many())
    assert outcomes == ["timed out after 0.3", "timed out after 0.1", "timed out after 0.2"]
    assert [seconds for seconds, _ in finished] == [0.1, 0.2, 0.3], "each at its own deadline, in order"
    assert all(seconds <= spent < seconds + 1.0 for seconds, spent in finished)


@pytest.mark.parametrize("authenticated", [False, True], ids=["open", "bearer"])
def test_handle_async_answers_what_handle_answers_before_anything_runs(authenticated):
    """The checks before a call runs are written twice (handle keeps them inline): they agree."""
    config: dict[str, Any] = {"registry": {"type": "static"}}
    if authenticated:
        config["auth"] = {"bearer": {"tokens": {"t-1": {"subject": "ann"}}}}
    server = ListenerlessServer()
    server.boot(MixedApp(config=providers.Configuration(default=config)))
    try:
        dispatcher = server.dispatcher
        assert dispatcher is not None
        known = request("add", 1)
        requests_ = [
            ServerRequest(known.path, known.body, "text/plain", {}),  # 415
            ServerRequest("as-mixed-component/as-mixed/nothing", known.body, known.content_type, {}),
            request("double", 1, timeout_ms=0),  # 504
            request("add", 1),  # 200, or 401 without the token
        ]
        for sent in requests_:
            answered, awaited = dispatcher.handle(sent), run(dispatcher.handle_async(sent))
            assert (awaited.status, awaited.body) == (answered.status, answered.body), sent
        assert dispatcher.handle(requests_[1]).status == (401 if authenticated else 404)
        dispatcher.stop_taking_calls()
        assert run(dispatcher.handle_async(request("double", 1))).status == 503
    finally:
        server.shutdown(timeout=5)
