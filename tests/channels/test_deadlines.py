"""Deadlines bound whole calls, reach the server, are checked before running, and are inherited."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    ServiceContainer,
    ServiceInstanceProvider,
    ServiceTimeoutException,
    call_options,
)
from container.testing import ConformanceService, ConformanceServiceImpl

from .conftest import SYNC_TRANSPORTS, client_manager, wire
from .relay import RelayService, RelayServiceImpl

CODECS = ["dispatch-json", "dispatch-msgpack"]


class DrippingServer:
    """Reads a request, then answers a valid HTTP response one byte every ``pause`` seconds."""

    def __init__(self, pause: float = 0.15) -> None:
        self.pause = pause
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
            body = b'{"result": "late"}'
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                len(body),
                body,
            )
            for byte in answer:
                if self.stop.wait(self.pause):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def dripping() -> Iterator[DrippingServer]:
    server = DrippingServer()
    yield server
    server.close()


@pytest.mark.parametrize("channel", CODECS)
def test_a_server_dripping_bytes_cannot_outlast_the_deadline(dripping, channel, transport):
    """Each byte arrives within any read timeout, yet the call ends at its 1 s deadline."""
    manager = client_manager(f"http://127.0.0.1:{dripping.port}", transport, calls={"timeout": 1.0})
    proxy = wire(manager, transport, channel)
    started = time.monotonic()
    try:
        with pytest.raises(ServiceTimeoutException) as info:
            proxy.hello("anyone?")
    finally:
        manager.close()
    elapsed = time.monotonic() - started
    assert info.value.limit == "deadline" and info.value.seconds == 1.0
    assert 0.9 < elapsed < 1.5, f"the call took {elapsed:.2f}s"


def test_the_server_refuses_a_call_whose_deadline_passed_without_running_it(base_url, implementation):
    """A request whose deadline is already over is answered 504; the implementation does not run."""
    before = list(implementation.executed)
    response = requests.post(
        f"{base_url}/invoke/wire-component/wire-test/hello",
        data=b'{"args": ["late"]}',
        headers={"Content-Type": "application/json", "sw-timeout-ms": "0"},
        timeout=10,
    )
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "DeadlineExceeded"
    assert implementation.executed == before


class RelayContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    conformance = providers.Singleton(ConformanceServiceImpl)
    downstream = ServiceInstanceProvider(ConformanceService, preferred_channel="local")
    relay = providers.Singleton(RelayServiceImpl, downstream=downstream)


@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)  # relay's methods are `def`
def test_a_nested_call_inherits_the_deadline_and_never_extends_it(base_url, transport):
    """A call made inside an implementation gets the caller's deadline, not its own 30 s default."""
    server = HttpServer()
    container = RelayContainer()
    container.config.from_dict({"registry": {"type": "static"}, "calls": {"timeout": 60}})
    server.boot(container)
    url = f"http://127.0.0.1:{server.port}"
    config = {
        "registry": {"type": "static", "components": {"relay-component": {"dispatch-msgpack": [url]}}},
        "http": {"client": transport},
    }
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    try:
        relay = manager.get_service(RelayService, "dispatch-msgpack")
        assert int(relay.downstream_context()["remaining-ms"]) > 25_000, "without options: the 30 s default"
        with call_options(timeout=2.0):
            remaining = int(relay.downstream_context()["remaining-ms"])
        assert 0 < remaining <= 2000, f"the nested call had {remaining} ms left"
    finally:
        manager.close()
        server.shutdown()
