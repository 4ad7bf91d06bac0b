"""The ASGI application under uvicorn and granian, each a real server process on 127.0.0.1.

The process boots tests/e2e/wire_asgi.py (the wire-test component, sync, and async-wire, whose
methods are ``async def`` but one): sync and async proxies call it through both codecs; raw
requests get the same statuses as from the embedded server (a conformance subset); health,
report, describe and metrics are served; a call whose caller gives up is cancelled on the
server; and when the server stops, the host deregisters (``lifespan.shutdown``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import requests
from dependency_injector import providers

from channels.http import HttpServer
from container import (
    ServiceContainer,
    ServiceManager,
    ServiceTimeoutException,
    call_options,
)
from container.testing import free_port
from tests.channels.async_services import AsyncWireService
from tests.channels.services import InsufficientFunds, WireService, make_payload

from .processes import ROOT, wait_until
from .wire_asgi import AsgiContainer

CONFIG = {
    "registry": {"type": "static"},
    "auth": {"expose": {"report": "open"}},
    "http": {"max_body_size": 65536},
}


@attrs.define
class Served:
    kind: str
    url: str
    port: int
    process: subprocess.Popen[str] | None
    marker: Path


def command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def start(kind: str, tmp: Path, config: dict[str, Any]) -> Served:
    port = free_port()
    marker = tmp / f"{kind}-nap"
    process = subprocess.Popen(
        [*command(kind, port), "tests.e2e.wire_asgi:app"],
        cwd=ROOT,
        env={
            **__import__("os").environ,
            "WIRE_PORT": str(port),
            "WIRE_CONFIG": json.dumps(config),
            "WIRE_NAP_MARKER": str(marker),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        try:
            return requests.get(f"{url}/health/wire-component", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    if not wait_until(serving, timeout=30):
        process.kill()
        raise AssertionError(f"{kind} did not serve:\n{process.communicate(timeout=10)[1]}")
    return Served(kind, url, port, process, marker)


def stop(served: Served) -> str:
    assert served.process is not None
    served.process.terminate()
    try:
        _, errors = served.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        served.process.kill()
        _, errors = served.process.communicate(timeout=10)
    return str(errors)


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def asgi(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start(str(request.param), tmp_path_factory.mktemp(str(request.param)), CONFIG)
    yield served
    stop(served)


@pytest.fixture(scope="module")
def embedded() -> Iterator[Served]:
    """The embedded server hosting the same container, for the answers to compare with."""
    server = HttpServer(host="127.0.0.1", port=0)
    container = AsgiContainer()
    container.config.from_dict(CONFIG)
    server.boot(container)
    yield Served("embedded", f"http://127.0.0.1:{server.port}", server.port, None, Path())
    server.shutdown()


def client(url: str, **extra: Any) -> ServiceManager:
    components = {
        name: {"dispatch-json": [url], "dispatch-msgpack": [url]}
        for name in ("wire-component", "async-wire-component")
    }
    config = {"registry": {"type": "static", "components": components}, **extra}
    return ServiceContainer(config=providers.Object(config)).service_manager()


@pytest.mark.parametrize("channel", ["dispatch-json", "dispatch-msgpack"])
def test_sync_and_async_methods_are_called_through_both_codecs(asgi, channel):
    """def methods from a sync caller, async def ones awaited, one interface mixing both: the same results."""
    manager = client(asgi.url)
    payload = make_payload()

    async def awaited() -> tuple[str, Any, int]:
        proxy = manager.get_service(AsyncWireService, channel)
        return await proxy.hello("awaited"), await proxy.echo(payload), proxy.add(2, 3)

    try:
        assert manager.get_service(WireService, channel).hello("sync") == "sync"
        assert asyncio.run(awaited()) == ("awaited", payload, 5)
        with pytest.raises(InsufficientFunds, match="cannot withdraw 7"):
            asyncio.run(manager.get_service(AsyncWireService, channel).withdraw(7))
    finally:
        manager.close()


def raw(port: int, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes; return the status and the body of the first answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head else 0
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ),
            None,
        )
        while length is not None and len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body


def call(path: str, body: bytes, extra: str = "", content_type: str = "application/json") -> bytes:
    head = (
        f"POST /invoke/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


REQUESTS = {
    "a call": call("wire-component/wire-test/hello", b'{"args": ["hi"]}'),
    "an async call": call("async-wire-component/async-wire/hello", b'{"args": ["hi"]}'),
    "a chunked body": (
        b"POST /invoke/async-wire-component/async-wire/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'5\r\n{"arg\r\nb\r\ns": ["hi"]}\r\n0\r\n\r\n'
    ),
    "an ill-typed argument": call("async-wire-component/async-wire/hello", b'{"args": [42]}'),
    "an unknown method": call("async-wire-component/async-wire/nothing", b'{"args": []}'),
    "an unknown content type": call("wire-component/wire-test/hello", b"x", content_type="text/plain"),
    "a body over the limit": call("wire-component/wire-test/hello", b'{"args": ["' + b"x" * 70000 + b'"]}'),
    "GET on a call": get("/invoke/wire-component/wire-test/hello"),
    "an encoded slash": call("wire-component%2Fwire-test/hello", b"{}"),
    "two deadlines": call(
        "wire-component/wire-test/hello", b'{"args": ["x"]}', "sw-timeout-ms: 100\r\nsw-timeout-ms: 200\r\n"
    ),
    "health": get("/health/async-wire-component"),
    "an unknown component's health": get("/health/nobody"),
    "the report": get("/report"),
    "describe": get("/describe/async-wire-component"),
    "HTTP/1.0": (
        b"POST /invoke/wire-component/wire-test/hello HTTP/1.0\r\nContent-Type: application/json\r\n"
        b'Content-Length: 16\r\n\r\n{"args": ["hi"]}'
    ),
}


def test_raw_requests_get_the_embedded_servers_statuses_and_bodies(asgi, embedded):
    """A conformance subset: each request's status and JSON body are the embedded server's."""
    seen = {name: raw(asgi.port, data) for name, data in REQUESTS.items()}
    expected = {name: raw(embedded.port, data) for name, data in REQUESTS.items()}
    for name in REQUESTS:
        status, body = seen[name]
        assert status == expected[name][0], name
        if body.startswith(b"{") and name not in ("health", "an unknown component's health"):
            got, want = json.loads(body), json.loads(expected[name][1])
            if "error" in got:  # the message may name the server's own limits alike; the type must match
                assert got["error"]["type"] == want["error"]["type"], name
            else:
                assert got == want, name
    assert seen["a call"][0] == 200 and seen["a body over the limit"][0] == 413
    assert b"async-wire" in seen["the report"][1] and seen["health"][0] == 200


def test_a_caller_that_gives_up_cancels_the_async_call_on_the_server(asgi):
    """A deadline that passes, then a caller that cancels its task: each stops the server's coroutine.

    On a busy machine the first request can reach the server after its deadline; the server then
    answers 504 without starting the coroutine, so the test counts the starts it saw.
    """
    manager = client(asgi.url)

    def notes(word: str) -> int:
        return asgi.marker.read_text().split().count(word) if asgi.marker.exists() else 0

    def settled() -> bool:
        return notes("started") == notes("cancelled")

    async def give_up() -> int:
        in_thread = asyncio.get_running_loop().run_in_executor
        proxy = manager.get_service(AsyncWireService, "dispatch-msgpack")
        with pytest.raises(ServiceTimeoutException), call_options(timeout=0.5):
            await proxy.sleep(30)
        assert await in_thread(None, wait_until, settled, 10), asgi.marker.read_text()
        stopped_by_the_deadline = notes("cancelled")
        task = asyncio.ensure_future(proxy.sleep(30))
        assert await in_thread(None, wait_until, lambda: notes("started") == stopped_by_the_deadline + 1, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return stopped_by_the_deadline + 1

    asgi.marker.unlink(missing_ok=True)
    try:
        expected = asyncio.run(give_up())
    finally:
        manager.close()
    assert wait_until(lambda: notes("cancelled") == expected, timeout=10), asgi.marker.read_text()
    assert "finished" not in asgi.marker.read_text()


@pytest.mark.parametrize("kind", ["uvicorn", "granian"])
def test_stopping_the_server_deregisters_the_host(kind, tmp_path):
    """SIGTERM: the ASGI server finishes, says lifespan.shutdown, and the host leaves the file registry."""
    registry = tmp_path / "registry.json"
    served = start(kind, tmp_path, {**CONFIG, "registry": {"type": "file", "path": str(registry)}})
    listed = json.loads(registry.read_text())
    assert "async-wire-component" in json.dumps(listed)
    errors = stop(served)
    # uvicorn ends by raising the signal it caught again, once its shutdown is done
    assert served.process is not None and served.process.returncode in (0, -signal.SIGTERM), errors
    assert "async-wire-component" not in json.dumps(json.loads(registry.read_text())), errors
