"""In-process costs: a cached get_service, a "local" channel proxy, the pipeline on a do-nothing transport.

Run: .venv/bin/python bench/inproc.py   (or `make bench`)

Prints, in nanoseconds per operation (best of 5 rounds of 200,000): a cached get_service, a
direct method call on the implementation, the same call through a proxy of the "local"
channel, and through a proxy of a channel whose transport answers at once without any I/O
(the whole client pipeline: context, Invocation, encoding, the attempts, decoding), each
proxy's overhead over the direct call, those overheads as ratios to the loop floor (an empty
lambda), and the server side of one call (the dispatcher given a request's bytes and headers,
answering with the encoded result), all measured in the same run. The script uses only the plugin API that every
release since the pipeline has, so it measures an older tree too (copy it there and run it).

On a tree with async services it also times awaited calls of an ``async def`` method (best of 5
rounds of 50,000 in one event loop): through the "local" channel, and through a do-nothing
transport with ``send_async`` and without it (the thread-pool fallback, 5,000 calls).
"""

from __future__ import annotations

import asyncio
import sys
import time
import timeit
from abc import abstractmethod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dependency_injector import containers, providers

from container import Channel, ServiceContainer
from container.codec import MSGPACK_CODEC
from container.plugin import CHANNELS, Request, Response, Transport, URLShape

try:  # the dispatcher's one request object; trees before it take the fields one by one
    from container.plugin import ServerRequest
except ImportError:
    ServerRequest = None
from samples.hello.implementation import HelloServiceImpl
from samples.hello.interface import HelloService

NUMBER = 200_000
ROUNDS = 5


class NothingTransport(Transport):
    """Answers every call at once with the same result, without any I/O."""

    answer = Response(200, MSGPACK_CODEC.encode({"result": "Hello, x!"}), MSGPACK_CODEC.content_type)

    def send(self, url: str, request: Request) -> Response:
        return self.answer


class NothingChannel(Channel):
    name = "bench-nothing"
    codec = MSGPACK_CODEC
    schemes = ("nothing",)
    url_shapes = (URLShape.OPAQUE,)
    transport = NothingTransport


CHANNELS.register(NothingChannel.name, NothingChannel)


class Bench(containers.DeclarativeContainer):
    services = providers.Container(
        ServiceContainer,
        config={
            "registry": {
                "type": "static",
                "components": {"hello-component": {"bench-nothing": ["nothing://answer"]}},
            }
        },
    )
    hello = providers.Singleton(HelloServiceImpl)


def best_ns(statement, number: int = NUMBER) -> float:
    return min(timeit.repeat(statement, number=number, repeat=ROUNDS)) / number * 1e9


def awaited_rows() -> list[tuple[str, float]]:
    """Awaited calls of an async def method; none on a tree without async services."""
    from container import (
        AbstractComponent,
        ChannelAddress,
        Component,
        ListenerlessServer,
        Service,
        component,
        implementation,
        service,
    )

    try:

        @service(name="bench-awaited")
        class Awaited(Service):
            @abstractmethod
            async def hello(self, name: str) -> str: ...

    except TypeError:  # a tree that refuses async def methods
        return []

    @component(name="bench-awaited-component", services=[Awaited])
    class AwaitedComponent(Component):
        pass

    @implementation()
    class AwaitedImpl(Awaited):
        async def hello(self, name: str) -> str:
            return f"Hello, {name}!"

    @implementation()
    class AwaitedComponentImpl(AbstractComponent, AwaitedComponent):
        def get_addresses(self, port: int) -> list[ChannelAddress]:
            return [ChannelAddress("local", "inproc://0")]

    class AsyncNothingTransport(NothingTransport):
        async def send_async(self, url: str, request: Request) -> Response:
            return self.answer

    class AsyncNothingChannel(NothingChannel):
        name = "bench-nothing-async"
        transport = AsyncNothingTransport

    CHANNELS.register(AsyncNothingChannel.name, AsyncNothingChannel)
    urls = {"bench-nothing": ["nothing://answer"], "bench-nothing-async": ["nothing://answer"]}

    class AwaitedApp(containers.DeclarativeContainer):
        services = providers.Container(
            ServiceContainer,
            config={"registry": {"type": "static", "components": {"bench-awaited-component": urls}}},
        )
        awaited = providers.Singleton(AwaitedImpl)

    server = ListenerlessServer()
    server.boot(AwaitedApp())
    manager = server.manager
    impl = manager.get_service(Awaited)
    proxies = {
        "direct await impl.hello('x')": (impl, NUMBER // 4),
        "await proxy.hello('x') via 'local' channel": (manager.proxy(Awaited, "local"), NUMBER // 4),
        "await proxy.hello('x') via a do-nothing transport with send_async": (
            manager.proxy(Awaited, "bench-nothing-async"),
            NUMBER // 4,
        ),
        "await proxy.hello('x') via a do-nothing transport without it (thread pool)": (
            manager.proxy(Awaited, "bench-nothing"),
            NUMBER // 40,
        ),
    }

    async def best(target: object, number: int) -> float:
        rounds = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(number):
                await target.hello("x")  # type: ignore[attr-defined]
            rounds.append((time.perf_counter() - started) / number * 1e9)
        return min(rounds)

    async def measure() -> list[tuple[str, float]]:
        return [(label, await best(target, number)) for label, (target, number) in proxies.items()]

    try:
        return asyncio.run(measure())
    finally:
        server.shutdown()


def main() -> None:
    manager = Bench().services.service_manager()
    impl = manager.get_service(HelloService)
    proxy = manager.proxy(HelloService, "local")
    nothing = manager.proxy(HelloService, "bench-nothing")
    assert proxy.hello("x") == impl.hello("x") == nothing.hello("x")

    dispatcher = manager.create_dispatcher()
    path, content_type = "hello-component/hello-service/hello", MSGPACK_CODEC.content_type
    body = MSGPACK_CODEC.encode({"args": ["x"]})
    headers = {
        "sw-timeout-ms": "30000",
        "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        "tenant": "a",
    }
    if ServerRequest is not None:
        answer = lambda: dispatcher.handle(ServerRequest(path, body, content_type, dict(headers), "peer"))  # noqa: E731
    else:
        answer = lambda: dispatcher.dispatch(path, body, content_type, dict(headers), "peer")  # noqa: E731
    assert answer().status == 200

    get_service = best_ns(lambda: manager.get_service(HelloService))
    empty = best_ns(lambda: None)
    direct = best_ns(lambda: impl.hello("x"))
    through_proxy = best_ns(lambda: proxy.hello("x"))
    through_nothing = best_ns(lambda: nothing.hello("x"))
    answering = best_ns(answer)
    awaited = awaited_rows()

    print(f"python {sys.version.split()[0]}, best of {ROUNDS} x {NUMBER:,} calls, ns per call")
    print("| operation | ns | target |")
    print("|---|---:|---|")
    print(f"| empty lambda (loop floor) | {empty:.0f} | |")
    print(f"| cached get_service(HelloService) | {get_service:.0f} | < 2000 |")
    print(f"| direct impl.hello('x') | {direct:.0f} | |")
    print(f"| proxy.hello('x') via 'local' channel | {through_proxy:.0f} | |")
    print(f"| proxy overhead over direct call | {through_proxy - direct:.0f} | < 1000 |")
    print(f"| proxy.hello('x') via a do-nothing transport (msgpack) | {through_nothing:.0f} | |")
    print(f"| pipeline overhead over direct call | {through_nothing - direct:.0f} | |")
    print(f"| dispatcher answering one msgpack call, 3 metadata pairs (no network) | {answering:.0f} | |")
    for label, ns in awaited:
        print(f"| {label} | {ns:.0f} | |")
    print()
    print(f"local proxy overhead / loop floor: {(through_proxy - direct) / empty:.1f}x [<= 20]")
    print(f"do-nothing transport pipeline overhead / loop floor: {(through_nothing - direct) / empty:.1f}x")


if __name__ == "__main__":
    main()
