"""The benchmark workload, the same as ../shared/bench/peers: hello(str) and echo(Data).

``Data`` is a recursive dataclass; the payload has 41 nodes (a root, 10 children, 3
grandchildren each) with 5-element lists, about 11 KB as JSON.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    component,
    implementation,
    service,
)
from container.plugin import CHANNELS

HELLO_MESSAGE = "hello world"


@dataclasses.dataclass
class Data:
    int_attr: int
    float_attr: float
    bool_attr: bool
    str_attr: str
    int_list_attr: list[int]
    float_list_attr: list[float]
    bool_list_attr: list[bool]
    str_list_attr: list[str]
    children: list[Data] = dataclasses.field(default_factory=list)


def node(i: int, children: list[Data] | None = None) -> Data:
    return Data(
        i,
        i + 0.5,
        bool(i % 2),
        f"node-{i}",
        [i + k for k in range(5)],
        [i + k + 0.25 for k in range(5)],
        [(i + k) % 2 == 0 for k in range(5)],
        [f"s{i}-{k}" for k in range(5)],
        children or [],
    )


def make_payload() -> Data:
    ids = iter(range(1, 1000))
    root = next(ids)
    children = []
    for _ in range(10):
        child = next(ids)
        children.append(node(child, [node(next(ids)) for _ in range(3)]))
    return node(root, children)


@service(name="bench-service")
class BenchService(Service):
    @abstractmethod
    def hello(self, message: str) -> str: ...

    @abstractmethod
    def echo(self, data: Data) -> Data: ...


@component(name="bench-component", services=[BenchService])
class BenchComponent(Component):
    pass


@implementation()
class BenchServiceImpl(BenchService):
    def hello(self, message: str) -> str:
        return message

    def echo(self, data: Data) -> Data:
        return data


@implementation()
class BenchComponentImpl(AbstractComponent, BenchComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        url = f"http://127.0.0.1:{port}"
        addresses = [ChannelAddress("dispatch-json", url), ChannelAddress("dispatch-msgpack", url)]
        if "tcp-msgpack" in CHANNELS.names():  # the sample plugin, when installed
            addresses.append(ChannelAddress("tcp-msgpack", "tcp://127.0.0.1:0"))
        return addresses


@service(name="async-bench-service")
class AsyncBenchService(Service):
    """The same two methods, ``async def`` (bench/async_bench.py)."""

    @abstractmethod
    async def hello(self, message: str) -> str: ...

    @abstractmethod
    async def echo(self, data: Data) -> Data: ...


@component(name="async-bench-component", services=[AsyncBenchService])
class AsyncBenchComponent(Component):
    pass


@implementation()
class AsyncBenchServiceImpl(AsyncBenchService):
    async def hello(self, message: str) -> str:
        return message

    async def echo(self, data: Data) -> Data:
        return data


@implementation()
class AsyncBenchComponentImpl(AbstractComponent, AsyncBenchComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        url = f"http://127.0.0.1:{port}"
        return [ChannelAddress("dispatch-json", url), ChannelAddress("dispatch-msgpack", url)]


# measurement (the peers harness's method: per-call perf_counter_ns, median and p99)


def time_calls(call: Callable[[], object], count: int, cap_seconds: float) -> list[float]:
    samples = []
    deadline = time.monotonic() + cap_seconds
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
        if time.monotonic() > deadline:
            break
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def throughput(call: Callable[[], object], threads: int = 8, seconds: float = 2.0) -> float:
    counts = [0] * threads
    stop = time.monotonic() + seconds
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            while time.monotonic() < stop:
                call()
                counts[index] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return sum(counts) / (time.monotonic() - started)


def pid_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and every process below it."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(member, 0.0) for member in tree)


def observed_config(sampled: bool = False) -> dict[str, Any]:
    """Tracing (the OpenTelemetry SDK, spans batched to an exporter that drops them) and metrics.

    What a production process pays: every span is made, ended and handed to the batch
    processor; only the export itself, which happens off the call path, is left out. With
    ``sampled``, the sampler most deployments use: parent-based, 10% of new traces.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)) if sampled else ALWAYS_ON)
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)
    mode = os.environ.get("BENCH_OBSERVE", "")
    return {"observability": {"tracing": "metrics" not in mode, "metrics": "tracing" not in mode}}


def _bench_container() -> type:
    from dependency_injector import containers, providers

    from container import ServiceContainer

    config: dict[str, Any] = {"registry": {"type": "static"}}
    if os.environ.get("BENCH_OBSERVE"):
        config.update(observed_config(os.environ["BENCH_OBSERVE"] == "sampled"))

    class BenchContainer(containers.DeclarativeContainer):
        """Hosts the bench service; a static registry (tracing and metrics with $BENCH_OBSERVE)."""

        services = providers.Container(ServiceContainer, config=config)
        bench = providers.Singleton(BenchServiceImpl)

    return BenchContainer


BenchContainer = _bench_container()
