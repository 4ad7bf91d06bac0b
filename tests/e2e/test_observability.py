"""Traces across three processes and metrics scraped over HTTP (client -> orders -> inventory).

The orders and inventory processes export their spans with OpenTelemetry's console exporter
into a file each (samples/shop/telemetry.py); this process collects its client spans with the
SDK's in-memory exporter, handed to its container only (no global provider).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dependency_injector import providers
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from container import ServiceContainer, ServiceManager
from samples.shop.interfaces import OrdersService, OutOfStock

from .processes import ServerProcess, python_module, wait_until


class ObservedShop:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.registry = folder / "registry.json"
        self.inventory = self._start("inventory")
        self.orders = self._start("orders")

    def _start(self, name: str) -> ServerProcess:
        args = ["--registry", str(self.registry), "--trace", str(self.folder / f"{name}.spans"), "--metrics"]
        return ServerProcess(python_module(f"samples.shop.{name}", *args))

    def spans(self, name: str) -> list[dict[str, Any]]:
        path = self.folder / f"{name}.spans"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def stop(self) -> None:
        for server in (self.orders, self.inventory):
            assert server.terminate() == 0, server.output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedShop]:
    running = ObservedShop(tmp_path_factory.mktemp("observed-shop"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client_spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def orders(shop: ObservedShop, client_spans: InMemorySpanExporter) -> Iterator[OrdersService]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(client_spans))
    config = {
        "registry": {"type": "file", "path": str(shop.registry), "poll_interval": 0.05},
        "observability": {"tracing": True},
    }
    container = ServiceContainer(
        config=providers.Object(config), extensions=providers.Dict({"otel.tracer_provider": provider})
    )
    manager: ServiceManager = container.service_manager()
    service = manager.get_service(OrdersService, "dispatch-msgpack")
    service.place("warm-up", 1)
    yield service
    manager.close()


def hex_id(value: int) -> str:
    return f"0x{value:016x}" if value < 2**64 else f"0x{value:032x}"


def trace_of(shop: ObservedShop, trace_id: str) -> dict[str, dict[str, Any]]:
    """The orders' and inventory's spans of one trace, by (process, kind)."""
    found = {}
    for name in ("orders", "inventory"):
        for span in shop.spans(name):
            if span["context"]["trace_id"] == trace_id:
                found[f"{name} {span['kind'].rpartition('.')[2]}"] = span
    return found


def test_one_call_is_one_trace_across_three_processes(shop, orders, client_spans):
    client_spans.clear()
    assert orders.place("book", 2).quantity == 2
    (client,) = client_spans.get_finished_spans()
    assert client.kind is SpanKind.CLIENT and client.name == "orders/place"
    assert client.attributes["rpc.system"] == "servicewire"
    assert client.attributes["rpc.service"] == "orders-component.orders"
    assert client.attributes["rpc.method"] == "place"
    assert client.attributes["server.address"] == "127.0.0.1"
    trace_id = f"0x{client.context.trace_id:032x}"
    assert wait_until(lambda: len(trace_of(shop, trace_id)) == 3, timeout=5)
    spans = trace_of(shop, trace_id)
    served = spans["orders SERVER"]
    onward = spans["orders CLIENT"]
    inventory = spans["inventory SERVER"]
    # parent -> child across the processes
    assert served["parent_id"] == f"0x{client.context.span_id:016x}"
    assert onward["parent_id"] == served["context"]["span_id"]
    assert inventory["parent_id"] == onward["context"]["span_id"]
    assert onward["name"] == inventory["name"] == "inventory/reserve"
    for span in spans.values():
        assert span["status"]["status_code"] == "UNSET"
        assert span["attributes"]["rpc.system"] == "servicewire"


def test_a_failing_call_marks_every_span_of_its_trace_as_error(shop, orders, client_spans):
    client_spans.clear()
    with pytest.raises(OutOfStock):
        orders.place("book", 10_000)
    (client,) = client_spans.get_finished_spans()
    assert client.status.status_code is StatusCode.ERROR
    assert client.attributes["error.type"] == "samples.shop.interfaces.OutOfStock"
    trace_id = f"0x{client.context.trace_id:032x}"
    assert wait_until(lambda: len(trace_of(shop, trace_id)) == 3, timeout=5)
    for where, span in trace_of(shop, trace_id).items():
        assert span["status"]["status_code"] == "ERROR", where
        assert span["attributes"]["error.type"] == "samples.shop.interfaces.OutOfStock", where
        assert any(event["name"] == "exception" for event in span["events"]), where


def samples_of(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def test_metrics_count_the_calls_and_fill_the_histogram(shop, orders):
    before = samples_of(shop.orders.url)
    for _ in range(3):
        orders.place("pen", 1)
    with pytest.raises(OutOfStock):
        orders.place("pen", 10_000)
    after = samples_of(shop.orders.url)

    def grew(name: str, **label_values: str) -> float:
        key = (name, labels(**label_values))
        return after.get(key, 0.0) - before.get(key, 0.0)

    served = {"side": "server", "component": "orders-component", "service": "orders", "method": "place"}
    onward = {
        "side": "client",
        "component": "inventory-component",
        "service": "inventory",
        "method": "reserve",
    }
    assert grew("servicewire_calls_total", **served, outcome="ok") == 3
    assert grew("servicewire_calls_total", **served, outcome="error") == 1
    assert (
        grew("servicewire_call_errors_total", **served, error_type="samples.shop.interfaces.OutOfStock") == 1
    )
    assert grew("servicewire_calls_total", **onward, outcome="ok") == 3
    assert grew("servicewire_calls_total", **onward, outcome="error") == 1
    assert grew("servicewire_call_duration_seconds_count", **served) == 4
    assert grew("servicewire_call_duration_seconds_bucket", **served, le="+Inf") == 4
    assert grew("servicewire_call_duration_seconds_bucket", **served, le="10.0") == 4  # loopback calls
    buckets = [
        after[key]
        for key in after
        if key[0] == "servicewire_call_duration_seconds_bucket" and dict(key[1]).items() >= served.items()
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert after[("servicewire_calls_in_flight", labels(**served))] == 0
    known = [
        value
        for (name, label_pairs), value in after.items()
        if name == "servicewire_instances" and dict(label_pairs)["component"] == "inventory-component"
    ]
    assert known and max(known) == 1  # the one inventory instance, as the registry told
