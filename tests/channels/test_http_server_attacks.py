"""Attacks on the embedded HTTP server that once stopped it or held its workers: real sockets, real servers.

Each test does what an attacker did against 0.2 (issue "The HTTP layer to production
standard") and checks what a user would: that well-behaved calls keep being answered in
time, and that the limits of ``http:`` are the ones applied.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from channels.http import HttpServer
from container import RemoteServiceException

from .conftest import ServerContainer, client_manager
from .services import WireService

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["threads", "asyncio"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each way the embedded server runs (``http.server``): the same attacks, the same outcome."""
    return str(request.param)


def boot(
    engine: str, tls: dict[str, str] | None = None, threads: int | None = None, **http: object
) -> HttpServer:
    http["server"] = engine
    server = HttpServer(host="127.0.0.1", port=0, threads=threads, tls=tls)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, "http": http})
    server.boot(container)
    return server


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashing or hostile client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_status(sock: socket.socket, timeout: float = 5.0) -> int:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 "), data[:80]
    return int(data[9:12])


def invoke_head(port: int, length: int, method: str = "hello") -> bytes:
    return (
        f"POST /invoke/wire-component/wire-test/{method} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def client_hello() -> bytes:
    """The first flight of a TLS client: a real ClientHello."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_connections_reset_during_the_tls_handshake_do_not_stop_the_server(certificates, engine):
    """One byte, or a ClientHello, then a reset: each closes that connection only; calls go on."""
    server = boot(engine, tls={"certfile": certificates["server.pem"], "keyfile": certificates["server.key"]})
    manager = client_manager(
        f"https://127.0.0.1:{server.port}",
        calls={"timeout": 5},
        http={"tls": {"verify": certificates["ca.pem"]}},
    )
    try:
        hello = client_hello()
        for first_flight in [b"\x16", hello, b"\x16", hello, b"\x16", hello]:
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(first_flight)
            reset(sock)
        time.sleep(0.3)  # let the server meet every reset
        proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
        assert proxy.hello("still serving") == "still serving"
    finally:
        manager.close()
        server.shutdown()


def test_clients_that_never_read_their_answers_hold_no_worker(engine):
    """4 connections pipeline calls with big answers and read none: other calls are still answered fast.

    With 0.2, each such connection held a worker in ``sendall`` until ``write_timeout`` (30 s).
    """
    server = boot(engine, threads=4, max_body_size=4 * 1024 * 1024)
    manager = client_manager(f"http://127.0.0.1:{server.port}", calls={"timeout": 5})
    message = json.dumps({"args": ["x" * 256 * 1024]}).encode()
    request = invoke_head(server.port, len(message)) + message
    attackers = []
    stop = threading.Event()

    def pipeline(sock: socket.socket) -> None:
        try:
            while not stop.is_set():
                sock.sendall(request)
        except OSError:
            pass

    try:
        for _ in range(4):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a 1 KB window, never read
            sock.connect(("127.0.0.1", server.port))
            attackers.append(sock)
            threading.Thread(target=pipeline, args=(sock,), daemon=True).start()
        time.sleep(1.0)  # the answers fill the attackers' windows and the server's send buffers
        proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
        slowest = 0.0
        for index in range(10):
            started = time.monotonic()
            assert proxy.hello(f"call {index}") == f"call {index}"
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0, f"a call took {slowest:.2f} s while 4 clients did not read"
    finally:
        stop.set()
        for sock in attackers:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the sending thread
            reset(sock)
        manager.close()
        server.shutdown()


def test_a_header_is_refused_as_it_grows_past_max_header_size(engine):
    """A header that never ends is refused with 431 once the head passes the limit, not buffered."""
    server = boot(engine, max_header_size=8 * 1024)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"POST /invoke/wire-component/wire-test/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        status = None
        chunk = b"a" * 16384
        sock.settimeout(0.05)
        while sent < 4 * 1024 * 1024:
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed after refusing
                break
            sent += len(chunk)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
        status = read_status(sock)
        sock.close()
        assert status == 431
        # Refused as the limit passed, allowing for what the socket buffers held in flight.
        assert sent < 1024 * 1024, f"{sent} bytes of one header were taken"
    finally:
        server.shutdown()


def test_one_address_cannot_take_the_whole_connection_cap(engine):
    """60 half-sent connections from 127.0.0.2, cap 60: calls from 127.0.0.1 are still answered."""
    server = boot(engine, max_connections=60, max_connections_per_peer=20, header_timeout=30)
    manager = client_manager(f"http://127.0.0.1:{server.port}", calls={"timeout": 5})
    attackers = []
    try:
        refused = 0
        for index in range(60):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"POST /invoke/wire-component/wire-test/hello HTTP/1.1\r\n")  # half a head
            attackers.append(sock)
            if index == 19:
                time.sleep(0.3)  # the server has read the first 20: none of them is idle
        for sock in attackers[20:]:
            try:
                if read_status(sock, timeout=2) == 503:
                    refused += 1
            except OSError:
                pass
        assert refused == 40, "connections past the per-address limit get 503"
        proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
        for index in range(20):
            assert proxy.hello(f"call {index}") == f"call {index}"
    finally:
        for sock in attackers:
            sock.close()
        manager.close()
        server.shutdown()


SERVER_WITH_FEW_DESCRIPTORS = textwrap.dedent(
    """
    import json, logging, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, 300))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from channels.http import HttpServer
    from tests.channels.conftest import ServerContainer
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, "http": {"max_connections": 1024}})
    server = HttpServer(host="127.0.0.1", port=0)
    server.boot(container)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    print(json.dumps({"port": server.port, "soft": soft}), flush=True)
    sys.stdin.read()
    server.shutdown()
    """
)


def test_the_connection_cap_stays_below_the_descriptor_limit():
    """Soft limit 200, hard 300, max_connections 1024: the soft limit is raised to 300 and 400
    idle connections still leave room for calls (the oldest idle ones are closed), with no
    flood of "cannot accept" lines."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_WITH_FEW_DESCRIPTORS],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    idle: list[socket.socket] = []
    manager = None
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["soft"] == 300, "the soft limit is raised to the hard one"
        port = started["port"]
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        manager = client_manager(f"http://127.0.0.1:{port}", calls={"timeout": 5})
        proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
        for index in range(5):
            assert proxy.hello(f"call {index}") == f"call {index}"
    finally:
        for sock in idle:
            sock.close()
        if manager is not None:
            manager.close()
        _, errors = process.communicate(timeout=30)  # closes stdin: the server shuts down
    assert errors.count("cannot accept") <= 3, errors[-2000:]


def test_an_argument_over_max_body_size_is_the_documented_413_error(engine):
    """A 9 MiB argument against the default 8 MiB limit: the client reads the 413, not a reset."""
    server = boot(engine)
    manager = client_manager(f"http://127.0.0.1:{server.port}", calls={"timeout": 5})
    try:
        proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
        with pytest.raises(RemoteServiceException) as caught:
            proxy.hello("x" * 9 * 1024 * 1024)
        assert caught.value.status == 413
        assert proxy.hello("after") == "after"
    finally:
        manager.close()
        server.shutdown()


def test_100_continue_comes_only_after_authentication(engine):
    """With auth on, a caller without a valid token gets 401 before its body is read; one with it, 100."""
    server = HttpServer(host="127.0.0.1", port=0)
    container = ServerContainer()
    container.config.from_dict(
        {
            "registry": {"type": "static"},
            "auth": {"bearer": {"tokens": {"s3cret": {"subject": "alice"}}}},
            "http": {"server": engine},
        }
    )
    server.boot(container)
    body = json.dumps({"args": ["x" * 1000]}).encode()
    try:
        cases = (("", b"HTTP/1.1 401 "), ("wrong", b"HTTP/1.1 401 "), ("s3cret", b"HTTP/1.1 100 "))
        for token, expected in cases:
            head = invoke_head(server.port, len(body))[:-2] + b"Expect: 100-continue\r\n"
            if token:
                head += f"Authorization: Bearer {token}\r\n".encode()
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(head + b"\r\n")
                first = sock.recv(200)
                assert first.startswith(expected), (token, first)
                if expected == b"HTTP/1.1 100 ":
                    sock.sendall(body)
                    assert read_status(sock) == 200
    finally:
        server.shutdown()


def test_a_413_sent_before_the_upload_ended_reaches_the_caller_as_413():
    """A server (not ours: ours lingers) that answers 413 after the head and closes at once.

    The client's write fails with a reset; the answer that came first is still the outcome:
    the documented 413 error, not "unavailable, not sent".
    """
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    envelope = json.dumps({"error": {"type": "PayloadTooLarge", "message": "too large here"}}).encode()

    def refuse_one() -> None:
        sock, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        sock.sendall(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(envelope)}\r\n\r\n".encode()
            + envelope
        )
        reset(sock)  # unread body: the kernel resets the connection

    thread = threading.Thread(target=refuse_one, daemon=True)
    thread.start()
    manager = client_manager(f"http://127.0.0.1:{port}", calls={"timeout": 5})
    try:
        proxy = manager.get_service(WireService, preferred_channel="dispatch-json")
        with pytest.raises(RemoteServiceException) as caught:
            proxy.hello("x" * 9 * 1024 * 1024)
        assert caught.value.status == 413
        assert "too large here" in str(caught.value)
    finally:
        manager.close()
        listener.close()
        thread.join(5)


def greedy_uploads(port: int, count: int, message: bytes, source: str = "127.0.0.1") -> list[socket.socket]:
    """``count`` connections from ``source`` that each send one call and never read the answer."""
    request = invoke_head(port, len(message)) + message
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a 1 KB window, never read
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        sock.settimeout(5)
        try:
            sock.sendall(request)
        except OSError:
            pass  # refused and closed before the whole upload was sent: its 503 is read below
        sockets.append(sock)
    return sockets


def call_from(port: int, source: str, message: bytes) -> int:
    """The status of one call of wire-test.hello sent from ``source``, read at once."""
    with socket.socket() as sock:
        sock.bind((source, 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        sock.sendall(invoke_head(port, len(message)) + message)
        return read_status(sock)


@pytest.mark.parametrize("limit", ["max_buffered_per_peer", "max_buffered"])
def test_the_bytes_buffered_for_clients_that_never_read_are_bounded(engine, limit):
    """20 uploads of 2 MiB from one address, answers never read: past the buffer budget, 503.

    Before the budget, each connection held its request and its 2 MiB answer until
    ``write_timeout``: forty connections sending 8 MiB each took 600 MiB. The refused calls get
    503 (they did not run: the caller may go elsewhere); past one address's budget, another
    address's calls are still served; a request without a body is always answered.
    """
    server = boot(engine, max_body_size=4 * 1024 * 1024, **{limit: 6 * 1024 * 1024})
    message = json.dumps({"args": ["x" * 2 * 1024 * 1024]}).encode()
    greedy: list[socket.socket] = []
    try:
        greedy = greedy_uploads(server.port, 20, message)
        statuses = []
        for sock in greedy:
            try:
                statuses.append(read_status(sock, timeout=5))
            except OSError:
                statuses.append(0)
        # 6 MiB holds 2 requests or answers of 2 MiB, and the server's kernel buffers take a part.
        assert statuses.count(200) <= 6, statuses
        assert statuses.count(503) >= 14, statuses
        if limit == "max_buffered_per_peer":
            assert call_from(server.port, "127.0.0.2", message) == 200
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /health/wire-component HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_status(sock) == 200
    finally:
        for sock in greedy:
            reset(sock)
        server.shutdown()


def test_heads_that_declare_large_bodies_and_send_none_hold_no_budget(engine):
    """8 heads from 4 addresses declaring 4 MiB each, no body: another client is still served.

    A declared length is checked against the budget at the head but counted only as its bytes
    arrive: were it counted at once, a few KB of heads would fill a 16 MiB budget until
    ``header_timeout`` and every upload from everyone would get 503.
    """
    server = boot(
        engine,
        max_body_size=4 * 1024 * 1024,
        max_buffered=16 * 1024 * 1024,
        max_buffered_per_peer=8 * 1024 * 1024,
    )
    heads: list[socket.socket] = []
    try:
        for address in ("127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"):
            for _ in range(2):
                sock = socket.socket()
                sock.bind((address, 0))
                sock.settimeout(5)
                sock.connect(("127.0.0.1", server.port))
                sock.sendall(invoke_head(server.port, 4 * 1024 * 1024))
                heads.append(sock)
        message = json.dumps({"args": ["x" * 1024 * 1024]}).encode()
        assert call_from(server.port, "127.0.0.99", message) == 200
    finally:
        for sock in heads:
            reset(sock)
        server.shutdown()


def test_failed_tls_handshakes_are_logged_as_one_line_not_one_each(certificates, engine, caplog):
    """50 connections that stop half-way through the handshake, and 10 that reset: a line or two.

    Accept failures were already throttled; each failed handshake wrote its own INFO line.
    """
    server = boot(
        engine,
        tls={"certfile": certificates["server.pem"], "keyfile": certificates["server.key"]},
        header_timeout=0.5,
    )
    hello = client_hello()
    half = []
    try:
        with caplog.at_level(logging.DEBUG):
            for _ in range(50):
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.sendall(hello[:20])
                half.append(sock)
            for _ in range(10):
                sock = socket.create_connection(("127.0.0.1", server.port))
                sock.sendall(hello)
                reset(sock)
            for sock in half:  # each is closed by the server once header_timeout passed
                sock.settimeout(5)
                try:
                    assert sock.recv(100) == b""
                except ConnectionResetError:
                    pass
        lines = [r for r in caplog.records if "handshake" in r.getMessage() and r.levelno >= logging.INFO]
        assert len(lines) <= 2, [r.getMessage() for r in lines]
    finally:
        for sock in half:
            sock.close()
        server.shutdown()
