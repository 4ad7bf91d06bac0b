"""Tracing, metrics and call logs wrap awaited calls as they wrap sync ones, on both sides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import containers, providers
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from container import ListenerlessServer, ServiceContainer
from tests.container.async_services import (
    MixedComponentImpl,
    MixedError,
    MixedService,
    MixedServiceImpl,
)

SPANS = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(SPANS))


class ObservedApp(containers.DeclarativeContainer):
    services = providers.Container(
        ServiceContainer,
        config={
            "registry": {"type": "static"},
            "observability": {
                "tracing": True,
                "metrics": True,
                "call_log": {"client": "info", "server": "info"},
            },
        },
        extensions=providers.Dict({"otel.tracer_provider": PROVIDER}),
    )
    mixed = providers.Singleton(MixedServiceImpl)
    component = providers.Singleton(MixedComponentImpl)


@pytest.fixture
def observed(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Any, ListenerlessServer]]:
    SPANS.clear()
    with caplog.at_level(logging.INFO, logger="servicewire.calls"):
        server = ListenerlessServer()
        server.boot(ObservedApp())
        try:
            assert server.manager is not None
            yield server.manager.proxy(MixedService, "local"), server
        finally:
            server.shutdown(timeout=5)


async def double_then_fail(mixed: Any) -> int:
    value = int(await mixed.double(4))
    with pytest.raises(MixedError):
        await mixed.fail("ink")
    return value


def test_an_awaited_call_has_a_client_span_and_a_server_span_of_one_trace(observed):
    mixed, _ = observed
    assert asyncio.run(double_then_fail(mixed)) == 8
    spans = {(span.name, span.kind): span for span in SPANS.get_finished_spans()}
    client = spans[("as-mixed/double", SpanKind.CLIENT)]
    server = spans[("as-mixed/double", SpanKind.SERVER)]
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id
    failed = spans[("as-mixed/fail", SpanKind.CLIENT)]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"].endswith("MixedError")


def test_an_awaited_call_is_counted_and_logged_on_both_sides(observed, caplog):
    mixed, server = observed
    asyncio.run(double_then_fail(mixed))
    exposition = server.manager.metrics_exposition()
    assert exposition is not None
    counted = {
        (sample.labels["side"], sample.labels["method"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(exposition[0].decode())
        for sample in family.samples
        if sample.name == "servicewire_calls_total"
    }
    for side in ("client", "server"):
        assert counted[(side, "double", "ok")] == 1
        assert counted[(side, "fail", "error")] == 1
    lines = [record.getMessage() for record in caplog.records if record.name == "servicewire.calls"]
    assert any(line.startswith("called as-mixed-component/as-mixed/double ok") for line in lines)
    assert any(line.startswith("served as-mixed-component/as-mixed/double ok") for line in lines)
