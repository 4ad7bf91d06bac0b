"""Call logs, metrics exposure, failover metrics and the cost when everything is off."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dependency_injector import providers
from prometheus_client.parser import text_string_to_metric_families

from channels.http import HttpServer
from container import RemoteServiceException, ServiceClient, ServiceContainer, ServiceManager, channel_of
from tests.channels.conftest import ServerContainer
from tests.channels.services import WireService

TOKEN = "metrics-scraper-token"


def boot(config: dict[str, Any]) -> HttpServer:
    server = HttpServer("127.0.0.1", 0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, **config})
    server.boot(container)
    return server


def client(url: str | list[str], **config: Any) -> ServiceManager:
    urls = url if isinstance(url, list) else [url]
    registry = {"type": "static", "components": {"wire-component": {"dispatch-msgpack": urls}}}
    return ServiceContainer(config=providers.Object({"registry": registry, **config})).service_manager()


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture()
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="servicewire.calls"):
        yield caplog


def test_the_server_logs_one_line_per_call_with_its_fields(logged):
    server = boot({"auth": {"bearer": {"tokens": {TOKEN: {"subject": "alice"}}}}})
    manager = client(f"http://127.0.0.1:{server.port}", auth={"credentials": {"token": TOKEN}})
    try:
        wire = manager.get_service(WireService, "dispatch-msgpack")
        assert wire.hello("x") == "x"
        with pytest.raises(RemoteServiceException):
            wire.crash()
    finally:
        manager.close()
        server.shutdown()
    lines = [r for r in logged.records if r.name == "servicewire.calls"]
    assert [r.servicewire["status"] for r in lines] == ["ok", "builtins.ValueError"]  # type: ignore[attr-defined]
    ok, failed = lines
    assert ok.levelno == logging.INFO and failed.levelno == logging.WARNING
    assert ok.getMessage().startswith("served wire-component/wire-test/hello ok ")
    assert "caller=alice" in ok.getMessage()
    fields = ok.servicewire  # type: ignore[attr-defined]
    assert fields["side"] == "server" and fields["caller"] == "alice" and fields["duration_ms"] >= 0
    assert fields["peer"].startswith("127.0.0.1:")
    # The unexpected exception is also logged at ERROR with its traceback (servicewire.server).
    assert any(
        r.name == "servicewire.server" and r.levelno == logging.ERROR and r.exc_info for r in logged.records
    )


def test_the_client_logs_only_when_asked_and_sampling_thins_successes(logged):
    server = boot({})
    quiet = client(f"http://127.0.0.1:{server.port}")
    chatty = client(
        f"http://127.0.0.1:{server.port}", observability={"call_log": {"client": "info", "sample": 0.25}}
    )
    try:
        for _ in range(4):
            quiet.get_service(WireService, "dispatch-msgpack").hello("q")
        for _ in range(400):
            chatty.get_service(WireService, "dispatch-msgpack").hello("c")
    finally:
        quiet.close()
        chatty.close()
        server.shutdown()
    client_lines = [
        r for r in logged.records if r.name == "servicewire.calls" and r.servicewire["side"] == "client"
    ]  # type: ignore[attr-defined]
    assert 40 < len(client_lines) < 160  # about a quarter of the chatty manager's 400 calls
    assert all(r.servicewire["url"].startswith("http://127.0.0.1:") for r in client_lines)  # type: ignore[attr-defined]


def test_nothing_is_added_to_the_call_path_when_observability_is_off():
    manager = client("http://127.0.0.1:1")
    try:
        assert manager.server_interceptors("wire-component") == []  # logging is not enabled for INFO
        assert manager.client_interceptors("wire-component") == []
        assert manager.metrics_exposition() is None
    finally:
        manager.close()


def test_metrics_need_a_token_by_default_and_count_what_was_served():
    server = boot(
        {"observability": {"metrics": True}, "auth": {"bearer": {"tokens": {TOKEN: {"subject": "prom"}}}}}
    )
    url = f"http://127.0.0.1:{server.port}"
    manager = client(url, auth={"credentials": {"token": TOKEN}})
    try:
        wire = manager.get_service(WireService, "dispatch-msgpack")
        for _ in range(5):
            wire.hello("x")
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
        answer = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
        found = scrape(answer.text)
        key = frozenset(
            {
                "side": "server",
                "component": "wire-component",
                "service": "wire-test",
                "method": "hello",
                "outcome": "ok",
            }.items()
        )
        assert found[("servicewire_calls_total", key)] == 5
    finally:
        manager.close()
        server.shutdown()


def test_metrics_off_answers_404_on_metrics():
    server = boot({"auth": {"expose": {"metrics": "open"}}})
    try:
        assert requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10).status_code == 404
    finally:
        server.shutdown()


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_a_client_without_a_server_exports_failovers_and_cooldowns_on_its_own_port():
    server = boot({})
    dead = dead_url()
    live = f"http://127.0.0.1:{server.port}"
    config = {
        "registry": {"type": "static", "components": {"wire-component": {"dispatch-msgpack": [dead, live]}}},
        "components": {"wire-component": {"selector": "first"}},
        "observability": {"metrics": True, "metrics_port": 0},
    }
    with ServiceClient(config) as wire_client:
        wire = wire_client.get_service(WireService, "dispatch-msgpack")
        assert wire.hello("x") == "x"
        assert channel_of(wire).address.urls == [dead, live]
        port = wire_client.manager.observability.exporter_port
        assert port
        found = scrape(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    server.shutdown()
    where = frozenset({"component": "wire-component", "channel": "dispatch-msgpack", "url": dead}.items())
    assert found[("servicewire_failovers_total", where)] == 1
    assert found[("servicewire_url_cooldowns_total", where)] == 1
    instances = frozenset({"component": "wire-component", "channel": "dispatch-msgpack"}.items())
    assert found[("servicewire_instances", instances)] == 2
    call = frozenset(
        {
            "side": "client",
            "component": "wire-component",
            "service": "wire-test",
            "method": "hello",
            "outcome": "ok",
        }.items()
    )
    assert found[("servicewire_calls_total", call)] == 1


def test_observability_config_errors_name_the_key():
    from container import ConfigurationException

    with pytest.raises(ConfigurationException, match="observability.call_log"):
        client("http://127.0.0.1:1", observability={"call_log": {"server": "loud"}})
    with pytest.raises(ConfigurationException, match="observability.call_log.sample"):
        client("http://127.0.0.1:1", observability={"call_log": {"sample": 2}})
