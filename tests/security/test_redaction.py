"""Credentials in URLs are redacted in every line servicewire writes.

A URL may carry ``user:password@`` (a registry entry written by mistake, a ``--url`` typed by
an operator, a DSN in a health check's error): its password reaches no log line, no error
message, no health document, no dashboard and no output of the command line. Each case runs
on real sockets (a real server, a real client transport) or as a real process (the command).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
from dependency_injector import providers

from channels.http import HttpServer, HttpTransport
from container import (
    ConfigurationException,
    ServiceContainer,
    ServiceUnavailableException,
    channel_of,
)
from container.plugin import Request, Settings, redact_credentials
from container.testing import free_port
from tests.channels.conftest import ServerContainer
from tests.channels.services import WireService
from tests.e2e.processes import ROOT, python_module

from .test_registry_urls import hostile_registry

PASSWORD = "pw-8f2d71"
WITH_CREDENTIALS = f"http://ops:{PASSWORD}@127.0.0.1:1"
COMMAND = python_module("channels.cli")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://user:secret@10.0.0.5:8000/x", "http://***@10.0.0.5:8000/x"),
        ("'https://token@10.0.0.5'", "'https://***@10.0.0.5'"),
        ("postgres://app:p@ss:w0rd@db:5432/app", "postgres://***@db:5432/app"),
        ("user:secret@10.0.0.5:8000 and http://u:p@h", "***@10.0.0.5:8000 and http://***@h"),
        ("write to alice@example.com", "write to alice@example.com"),
        ("http://10.0.0.5:8000/health", "http://10.0.0.5:8000/health"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_redact_credentials(text, shown):
    assert redact_credentials(text) == shown


def every_line(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it: message, traceback and structured fields."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(
        f"{formatter.format(record)} {getattr(record, 'servicewire', '')}" for record in caplog.records
    )


@pytest.fixture()
def server() -> Iterator[HttpServer]:
    http = HttpServer("127.0.0.1", 0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, "auth": {"expose": {"dashboard": "open"}}})
    http.boot(container)
    yield http
    http.shutdown()


def test_a_client_logs_no_password_of_the_registrys_urls(server, caplog):
    """The refused-URL warning, the call log and failovers: the URL with user:pass is redacted."""
    good = f"http://127.0.0.1:{server.port}"
    dead = f"http://127.0.0.1:{free_port()}"
    config = {
        "registry": {"type": "static", "components": {"wire-component": {"dispatch-json": [dead, good]}}},
        "observability": {"call_log": {"client": "info", "server": "info"}},
    }
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    hostile_registry(manager, "dispatch-json", [WITH_CREDENTIALS, dead, good])
    try:
        with caplog.at_level(logging.DEBUG):
            wire = manager.get_service(WireService, "dispatch-json")
            for _ in range(4):
                assert wire.hello("x") == "x"
        assert channel_of(wire).address.urls == [dead, good]
    finally:
        manager.close()
    lines = every_line(caplog)
    assert "the registry's URL 'http://***@127.0.0.1:1' is refused: it carries credentials" in lines
    assert "called wire-component/wire-test/hello ok" in lines
    assert PASSWORD not in lines


def test_config_errors_name_the_url_without_its_password():
    config = {
        "registry": {
            "type": "static",
            "components": {"wire-component": {"dispatch-json": [WITH_CREDENTIALS]}},
        }
    }
    with pytest.raises(ConfigurationException) as info:
        ServiceContainer(config=providers.Object(config)).service_manager()
    assert "'http://***@127.0.0.1:1'" in str(info.value)
    assert PASSWORD not in str(info.value)
    bad_shape = {
        "registry": {
            "type": "static",
            "components": {"wire-component": {"dispatch-json": {"u": WITH_CREDENTIALS}}},
        }
    }
    with pytest.raises(ConfigurationException) as info:
        ServiceContainer(config=providers.Object(bad_shape)).service_manager()
    assert PASSWORD not in str(info.value)


def test_a_transport_failure_names_the_url_without_its_password():
    """Sent straight to a transport (no channel checked it): the exception says where, redacted."""
    transport = HttpTransport(Settings({}))
    url = f"http://ops:{PASSWORD}@127.0.0.1:{free_port()}"
    request = Request(
        "wire-component/wire-test/hello", b"{}", "application/json", {}, time.monotonic() + 5, 1.0
    )
    try:
        with pytest.raises(ServiceUnavailableException) as info:
            transport.send(url, request)
    finally:
        transport.close()
    assert PASSWORD not in str(info.value) and PASSWORD not in info.value.url
    assert "http://***@127.0.0.1:" in str(info.value)


def test_the_dashboard_shows_registry_urls_without_their_password(server):
    assert server.manager is not None
    hostile_registry(server.manager, "dispatch-json", [WITH_CREDENTIALS])
    state = requests.get(f"http://127.0.0.1:{server.port}/dashboard/state", timeout=10)
    assert state.status_code == 200
    assert PASSWORD not in state.text
    [component] = [c for c in state.json()["components"] if c["name"] == "wire-component"]
    shown = {i["url"]: i for i in component["instances"]}
    assert shown["http://***@127.0.0.1:1"]["health"] == "UNKNOWN"  # not probed: the probe refuses it
    assert "credentials" in shown["http://***@127.0.0.1:1"]["detail"]


def test_a_credential_provider_that_gives_a_broken_token_is_not_quoted(server):
    """A token with a line break is refused without a character of it in the message."""
    url = f"http://127.0.0.1:{server.port}"
    config = {"registry": {"type": "static", "components": {"wire-component": {"dispatch-json": [url]}}}}
    token = f"{PASSWORD}\r\nX-Injected: 1"
    container = ServiceContainer(
        config=providers.Object(config), extensions=providers.Dict({"auth.credentials": lambda: token})
    )
    manager = container.service_manager()
    try:
        with pytest.raises(ConfigurationException, match="a token with a line break") as info:
            manager.get_service(WireService, "dispatch-json").hello("x")
        assert PASSWORD[:4] not in str(info.value)
    finally:
        manager.close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_command_line_prints_no_password_of_a_url(server):
    """`health --url` and `call --url` with user:pass@: every line printed is redacted."""
    url = f"http://ops:{PASSWORD}@127.0.0.1:{server.port}"
    health = run("health", "--url", url, "wire-component", "--json")
    assert PASSWORD not in health.stdout + health.stderr
    assert f"http://***@127.0.0.1:{server.port}" in health.stdout
    assert "credentials" in health.stdout  # not probed, and why
    table = run("health", "--url", url, "wire-component")
    assert PASSWORD not in table.stdout + table.stderr
    assert f"http://***@127.0.0.1:{server.port}" in table.stdout
    call = run("call", "--url", url, "wire-component.wire-test.hello", '["x"]')
    assert call.returncode == 2
    assert PASSWORD not in call.stdout + call.stderr
    assert "http://***@127.0.0.1:" in call.stderr
