"""The embedded HTTP server under hostile clients: real sockets against a real HttpServer.

Each test says what an attacker does and what a user checks: that normal calls keep being
answered, that oversized requests are refused before they are read, and that the limits of
``http:`` are the ones applied.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from channels.http import HttpServer

from .conftest import ServerContainer, client_manager
from .services import WireService

LIMITS = {
    "max_body_size": 1024 * 1024,
    "header_timeout": 2.0,
    "idle_timeout": 3.0,
    "max_connections": 2048,
    "max_connections_per_peer": 2048,
    "max_header_size": 8 * 1024,
    "max_header_count": 20,
}


@pytest.fixture(scope="module", params=["threads", "asyncio"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each way the embedded server runs (``http.server``): the same limits, the same outcome."""
    return str(request.param)


def boot(engine: str, **http: object) -> HttpServer:
    server = HttpServer(host="127.0.0.1", port=0)
    container = ServerContainer()
    config = {"registry": {"type": "static"}, "http": {**LIMITS, **http, "server": engine}}
    container.config.from_dict(config)
    server.boot(container)
    return server


@pytest.fixture(scope="module")
def server(engine: str) -> Iterator[HttpServer]:
    http = boot(engine)
    yield http
    http.shutdown()


@pytest.fixture(scope="module")
def base_url(server: HttpServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture()
def proxy(base_url: str) -> Iterator[WireService]:
    manager = client_manager(base_url, calls={"timeout": 5})
    yield manager.get_service(WireService, preferred_channel="dispatch-msgpack")
    manager.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_answer(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Read until the server closes or a whole head arrived with its Content-Length body."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        if not chunk:
            return data
        data += chunk
        head, found, body = data.partition(b"\r\n\r\n")
        if found:
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and len(body) >= int(value):
                    return data


def invoke_head(port: int, extra: str = "", length: int | None = 0) -> bytes:
    fields = f"Content-Length: {length}\r\n" if length is not None else ""
    return (
        f"POST /invoke/wire-component/WireService/hello HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/msgpack\r\n{fields}{extra}\r\n"
    ).encode()


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer[9:12])


def test_a_thousand_idle_connections_and_slowloris_do_not_stop_calls(server, proxy):
    port = server.port
    idle = [connect(port) for _ in range(1000)]
    slow = [connect(port) for _ in range(20)]
    stop = threading.Event()

    def slowloris() -> None:
        head = invoke_head(port, "X-Padding: " + "a" * 200 + "\r\n", length=5)
        for index in range(len(head)):
            for sock in slow:
                try:
                    sock.send(head[index : index + 1])
                except OSError:
                    pass
            if stop.wait(0.2):
                return

    sender = threading.Thread(target=slowloris, daemon=True)
    sender.start()
    try:
        slowest = 0.0
        for index in range(30):
            started = time.monotonic()
            assert proxy.hello(f"call {index}") == f"call {index}"
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.05)
        assert slowest < 1.0, f"a call took {slowest:.2f} s with 1,000 idle and 20 slow connections"

        # The slow senders are cut off once header_timeout (2 s) passed since their first byte.
        for sock in slow:
            assert status_of(read_answer(sock)) == 408
        # The idle connections are still open: idle_timeout is 3 s and they were never used.
        poller = select.poll()
        for sock in idle:
            poller.register(sock, select.POLLIN)
        assert poller.poll(0) == []
    finally:
        stop.set()
        for sock in idle + slow:
            sock.close()


def test_idle_connections_are_closed_after_the_idle_timeout(server):
    sock = connect(server.port)
    started = time.monotonic()
    assert read_answer(sock, timeout=10) == b""  # closed without an answer
    waited = time.monotonic() - started
    assert 2.5 < waited < 6, waited
    sock.close()


def test_a_declared_64_mib_upload_is_refused_before_9_mib_are_sent(server):
    sock = connect(server.port)
    sock.sendall(invoke_head(server.port, length=64 * 1024 * 1024))
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    sock.setblocking(False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sent < 64 * 1024 * 1024:
        readable, writable, _ = select.select([sock], [sock], [], 1)
        if readable:
            sock.setblocking(True)
            answer = read_answer(sock)
            break
        if writable:
            try:
                sent += sock.send(chunk)
            except BlockingIOError:
                continue
            except OSError:
                break
    sock.close()
    assert status_of(answer) == 413
    assert b"max_body_size" in answer or b"1048576" in answer
    assert sent < 9 * 1024 * 1024, f"{sent} bytes were sent before the refusal"


def test_a_chunked_upload_is_refused_as_the_limit_passes(server):
    sock = connect(server.port)
    sock.sendall(invoke_head(server.port, "Transfer-Encoding: chunked\r\n", length=None))
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent = 0
    answer = b""
    for _ in range(200):  # 12.5 MiB at most
        try:
            sock.sendall(chunk)
        except OSError:
            break
        sent += 0x10000
        readable, _, _ = select.select([sock], [], [], 0.02)
        if readable:
            break
    answer = read_answer(sock)
    sock.close()
    assert status_of(answer) == 413
    # Refused as the limit (1 MiB) passed, allowing for what the socket buffers held in flight.
    assert sent <= 1024 * 1024 + 4 * 1024 * 1024, sent


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("X-Big: " + "b" * 9000 + "\r\n", "size"),
        ("".join(f"X-Field-{n}: {n}\r\n" for n in range(25)), "count"),
    ],
)
def test_header_limits_answer_431(server, extra, what):
    sock = connect(server.port)
    sock.sendall(invoke_head(server.port, extra))
    answer = read_answer(sock)
    sock.close()
    assert status_of(answer) == 431, what


def test_at_the_connection_cap_the_oldest_idle_connection_makes_room(engine):
    server = boot(engine, max_connections=10)
    try:
        idle = [connect(server.port) for _ in range(10)]
        time.sleep(0.3)  # let the server register them all as idle
        sock = connect(server.port)
        sock.sendall(b"GET /health/wire-component HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(read_answer(sock)) == 200
        # The first idle connection was closed to make room for the new one.
        assert read_answer(idle[0], timeout=2) == b""
        for other in [*idle, sock]:
            other.close()
    finally:
        server.shutdown()


def test_at_the_connection_cap_with_none_idle_a_new_connection_is_refused_fast(engine):
    server = boot(engine, max_connections=5)
    try:
        busy = [connect(server.port) for _ in range(5)]
        for sock in busy:
            sock.sendall(b"POST /invoke/wire-component/WireService/hello HTTP/1.1\r\n")  # half a head
        time.sleep(0.3)
        started = time.monotonic()
        sock = connect(server.port)
        answer = read_answer(sock)
        assert time.monotonic() - started < 1.0
        assert status_of(answer) == 503
        for other in [*busy, sock]:
            other.close()
    finally:
        server.shutdown()


def test_garbage_instead_of_http_answers_400_and_the_server_keeps_serving(server, proxy):
    sock = connect(server.port)
    sock.sendall(b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n")
    assert status_of(read_answer(sock)) == 400
    sock.close()
    assert proxy.hello("still here") == "still here"
