"""HTTP/1.1 conformance on raw sockets: the embedded server (on threads and on asyncio) and gunicorn.

Every case sends bytes as a client (or an attacker) would and checks the answers a user would
check: statuses, their order, whether the connection stays open. Each runs against both
servers with the same expected answers and the same limits (``http:`` for the embedded server,
gunicorn's options set to match). Where gunicorn cannot give the same answer by configuration,
the case says why and is marked ``xfail(strict=True)``, so that it fails loudly the day gunicorn
agrees; docs/http.md ("Conformance") lists those differences.

The cases follow RFC 9112 (message framing, Content-Length and Transfer-Encoding conflicts,
pipelining, HTTP/1.0), RFC 9110 (``100-continue``, Host), the limits of docs/http.md, slow
clients, and TLS handshakes that fail.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httptools
import pytest

from channels.http import HttpServer
from container.testing import free_port

from .conftest import ServerContainer

ROOT = Path(__file__).resolve().parents[2]

HTTP = {
    "max_body_size": 64 * 1024,
    "max_header_size": 8 * 1024,
    "max_header_count": 20,
    "header_timeout": 2.0,
    "idle_timeout": 3.0,
}
"""The limits both servers run with (gunicorn's options below match them)."""

HELLO = "/invoke/wire-component/wire-test/hello"


@attrs.frozen
class Target:
    """A server under test: where it listens and what it is."""

    kind: str
    port: int
    tls_port: int
    ca: str


def embedded_servers(certificates: dict[str, str], engine: str) -> Iterator[Target]:
    servers = []
    for tls in (None, {"certfile": certificates["server.pem"], "keyfile": certificates["server.key"]}):
        server = HttpServer(host="127.0.0.1", port=0, threads=4, tls=tls)
        container = ServerContainer()
        container.config.from_dict({"registry": {"type": "static"}, "http": {**HTTP, "server": engine}})
        server.boot(container)
        servers.append(server)
    yield Target(
        "embedded" if engine == "threads" else engine,
        servers[0].port,
        servers[1].port,
        certificates["ca.pem"],
    )
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def embedded(certificates: dict[str, str]) -> Iterator[Target]:
    """The embedded server on threads (the engine of services with any ``def`` method)."""
    yield from embedded_servers(certificates, "threads")


@pytest.fixture(scope="module")
def asyncio_engine(certificates: dict[str, str]) -> Iterator[Target]:
    """The embedded server on its asyncio loop (``http.server: asyncio``): the same answers."""
    yield from embedded_servers(certificates, "asyncio")


def start_gunicorn(port: int, tls: dict[str, str] | None) -> subprocess.Popen[str]:
    app = f'channels.http.wsgi:create_app("tests.e2e.wire_server:from_environment", port={port})'
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        "4",
        # gunicorn's limits, set to match HTTP (its field limit is per field, ours per head)
        "--limit-request-fields",
        str(HTTP["max_header_count"]),
        "--limit-request-field_size",
        str(HTTP["max_header_size"]),
        "--keep-alive",
        str(int(HTTP["idle_timeout"])),
    ]
    if tls:
        command += ["--certfile", tls["certfile"], "--keyfile", tls["keyfile"]]
    command.append(app)
    config = {"registry": {"type": "static"}, "http": HTTP}
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "WIRE_CONFIG": json.dumps(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def wait_until_serving(port: int, tls: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answers = exchange(port, get("/health/wire-component"), tls=tls, timeout=2)
            if answers and answers[0].status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not serve on port {port}")


@pytest.fixture(scope="module")
def gunicorn(certificates: dict[str, str]) -> Iterator[Target]:
    port, tls_port = free_port(), free_port()
    tls = {"certfile": certificates["server.pem"], "keyfile": certificates["server.key"]}
    processes = [start_gunicorn(port, None), start_gunicorn(tls_port, tls)]
    try:
        wait_until_serving(port)
        wait_until_serving(tls_port, client_context(certificates["ca.pem"]))
        yield Target("gunicorn", port, tls_port, certificates["ca.pem"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@pytest.fixture(params=["embedded", "asyncio_engine", "gunicorn"])
def target(request: pytest.FixtureRequest) -> Target:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def differs_under_gunicorn(request: pytest.FixtureRequest, target: Target, reason: str) -> None:
    """Mark the running case as a documented difference of gunicorn (docs/http.md, "Conformance")."""
    if target.kind == "gunicorn":
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"gunicorn: {reason}"))


# a raw client


@attrs.define
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class _Collector:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.answers.append(Answer(self.parser.get_status_code(), self.headers, b"".join(self.body)))
        self.headers, self.body = {}, []


def read_answers(sock: socket.socket, count: int, timeout: float = 5.0) -> tuple[list[Answer], bool]:
    """Read up to ``count`` final answers (interim ones listed too); say whether the server closed."""
    collector = _Collector()
    parser = collector.parser = httptools.HttpResponseParser(collector)
    sock.settimeout(timeout)
    closed = False
    while len([a for a in collector.answers if a.status >= 200]) < count:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
        except TimeoutError:
            break
        if not data:
            closed = True
            break
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            break
    return collector.answers, closed


def closes(sock: socket.socket, timeout: float = 3.0) -> bool:
    """Return True when the server closes the connection (with nothing more to say) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def client_context(ca: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    return context


def connect(port: int, tls: ssl.SSLContext | None = None, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def exchange(
    port: int, data: bytes, count: int = 1, tls: ssl.SSLContext | None = None, timeout: float = 5.0
) -> list[Answer]:
    with connect(port, tls, timeout) as sock:
        sock.sendall(data)
        return read_answers(sock, count, timeout)[0]


def post(
    body: bytes = b'{"args": ["hi"]}', extra: str = "", version: str = "1.1", host: bool = True
) -> bytes:
    head = f"POST {HELLO} HTTP/{version}\r\n"
    if host:
        head += "Host: 127.0.0.1\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def get(path: str, extra: str = "", version: str = "1.1") -> bytes:
    return f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def statuses(answers: list[Answer]) -> list[int]:
    return [answer.status for answer in answers]


# message framing (RFC 9112, 6)


def test_a_call_with_content_length_is_answered(target):
    answers = exchange(target.port, post())
    assert statuses(answers) == [200]
    assert json.loads(answers[0].body) == {"result": "hi"}


def test_a_chunked_body_is_read(target):
    body = b'{"args": ["chunked"]}'
    data = (
        (
            f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    answers = exchange(target.port, data)
    assert statuses(answers) == [200]
    assert json.loads(answers[0].body) == {"result": "chunked"}


@pytest.mark.parametrize(
    "fields",
    [
        "Content-Length: 20\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 20\r\n",
        "Content-Length: 20\r\nContent-Length: 21\r\n",
        "Content-Length: 20, 21\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +20\r\n",
        "Content-Length: 0x14\r\n",
        "Transfer-Encoding: gzip, chunked, identity\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "two-lengths", "length-list", "negative", "plus", "hex", "te-not-last"],
)
def test_ambiguous_framing_is_refused_with_400(target, fields):
    """Request smuggling's raw material: refused before anything runs, and the connection closed."""
    data = f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{fields}\r\n"
    with connect(target.port) as sock:
        sock.sendall(data.encode() + b'{"args": ["smuggled"]}')
        answers, _ = read_answers(sock, 1, timeout=3)
        assert statuses(answers) == [400]
        assert closes(sock)


@pytest.mark.parametrize(
    "data",
    [
        f"POST {HELLO} HTTP/1.1\r\nHost : 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode(),
        f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nX: b\r\n folded\r\nContent-Length: 0\r\n\r\n".encode(),
        f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n".encode(),
        f"POST {HELLO} HTTP/9.9\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode(),
        b"\x16\x03\x01\x02\x00 not HTTP\r\n\r\n",
        f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".encode(),
    ],
    ids=["space-before-colon", "obs-fold", "bare-cr", "unknown-version", "not-http", "bad-chunk-size"],
)
def test_malformed_requests_are_refused_with_400(target, data):
    answers = exchange(target.port, data, timeout=3)
    assert statuses(answers) == [400]


def test_transfer_encoding_in_http_1_0_is_refused(target):
    """RFC 9112, 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing."""
    data = (
        f"POST {HELLO} HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n"
    )
    assert statuses(exchange(target.port, data.encode())) == [400]


def test_an_http_1_1_request_without_host_is_refused(target):
    """RFC 9112, 3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks Host."""
    assert statuses(exchange(target.port, post(host=False))) == [400]


def test_a_request_with_two_host_fields_is_refused(target):
    assert statuses(exchange(target.port, post(extra="Host: 127.0.0.2\r\n"))) == [400]


def test_a_doubled_deadline_is_refused(target):
    """Two sw-timeout-ms fields: 400, never a silently dropped deadline."""
    extra = "sw-timeout-ms: 100\r\nsw-timeout-ms: 5000\r\n"
    answers = exchange(target.port, post(extra=extra))
    assert statuses(answers) == [400]
    assert b"sw-timeout-ms" in answers[0].body


@pytest.mark.parametrize(
    "value", ["nan", "-5", "1e3", "5_000", "+5000", "5000.0", "12345678901", "0x10", "5 000", ""]
)
def test_a_malformed_deadline_is_refused(target, value):
    """sw-timeout-ms is 1 to 10 ASCII digits: anything else is 400, never a silently dropped deadline."""
    answers = exchange(target.port, post(extra=f"sw-timeout-ms: {value}\r\n"))
    assert statuses(answers) == [400]
    assert b"sw-timeout-ms" in answers[0].body and b"1 to 10 ASCII digits" in answers[0].body


@pytest.mark.parametrize(
    ("value", "status"), [("5000", 200), ("0005000", 200), ("9999999999", 200), ("0", 504)]
)
def test_a_well_formed_deadline_is_kept(target, value, status):
    assert statuses(exchange(target.port, post(extra=f"sw-timeout-ms: {value}\r\n"))) == [status]


# pipelining (RFC 9112, 9.3.2)


def test_pipelined_requests_are_answered_in_order(target):
    bodies = [f'{{"args": ["call {index}"]}}'.encode() for index in range(5)]
    answers = exchange(target.port, b"".join(post(body) for body in bodies), count=5)
    assert statuses(answers) == [200] * 5
    assert [json.loads(answer.body)["result"] for answer in answers] == [f"call {i}" for i in range(5)]


def test_a_request_pipelined_before_a_malformed_one_is_answered_first(target):
    with connect(target.port) as sock:
        sock.sendall(post() + b"NOT HTTP AT ALL\r\n\r\n")
        answers, _ = read_answers(sock, 2)
        assert statuses(answers) == [200, 400]
        assert closes(sock)


# 100-continue (RFC 9110, 10.1.1)


def test_100_continue_comes_before_the_body_of_a_routed_call(target):
    body = b'{"args": ["continued"]}'
    head, _, _ = post(body, extra="Expect: 100-continue\r\n").partition(b"\r\n\r\n")
    with connect(target.port) as sock:
        sock.sendall(head + b"\r\n\r\n")
        sock.settimeout(2)
        first = sock.recv(100)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first
        sock.sendall(body)
        answers, _ = read_answers(sock, 1)
    assert statuses(answers) == [200]


def test_an_unrouted_call_is_refused_without_100_continue(target, request):
    differs_under_gunicorn(request, target, "it sends 100 Continue before the application runs")
    data = "POST /invoke/wire-component/wire-test/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    data += "Content-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
    with connect(target.port) as sock:
        sock.sendall(data.encode())
        sock.settimeout(3)
        first = sock.recv(100)
    assert first.startswith(b"HTTP/1.1 404 "), first


def test_a_content_type_not_served_is_refused_without_100_continue(target, request):
    differs_under_gunicorn(request, target, "it sends 100 Continue before the application runs")
    data = f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    data += "Content-Type: text/csv\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
    with connect(target.port) as sock:
        sock.sendall(data.encode())
        sock.settimeout(3)
        first = sock.recv(100)
    assert first.startswith(b"HTTP/1.1 415 "), first


def test_an_http_1_0_client_never_gets_100_continue(target):
    body = b'{"args": ["old"]}'
    with connect(target.port) as sock:
        sock.sendall(post(body, extra="Expect: 100-continue\r\n", version="1.0"))
        sock.settimeout(3)
        first = sock.recv(100)
    assert first.startswith(b"HTTP/1.1 200 ") or first.startswith(b"HTTP/1.0 200 "), first


# HTTP/1.0 (RFC 9112, 9.3)


def test_http_1_0_closes_after_the_answer(target):
    with connect(target.port) as sock:
        sock.sendall(post(version="1.0"))
        answers, _ = read_answers(sock, 1, timeout=3)
        assert statuses(answers) == [200]
        assert closes(sock)


def test_http_1_0_keep_alive_is_answered_as_such(target):
    with connect(target.port) as sock:
        sock.sendall(post(version="1.0", extra="Connection: keep-alive\r\n"))
        answers, closed = read_answers(sock, 1)
        assert statuses(answers) == [200] and not closed
        assert answers[0].headers.get("connection", "").lower() == "keep-alive"
        sock.sendall(post(b'{"args": ["again"]}', version="1.0"))
        answers, _ = read_answers(sock, 1)
    assert statuses(answers) == [200]


def test_head_gets_the_headers_of_get_without_a_body(target):
    with connect(target.port) as sock:
        sock.sendall(b"HEAD /health/wire-component HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(3)
        data = sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert rest == b""


# limits (docs/http.md, "Limits")


def test_a_declared_body_over_the_limit_is_refused_and_read_by_a_client_still_sending(target):
    """413 from Content-Length, and a lingering close: the client that sends the body anyway reads it."""
    body = b"x" * (1024 * 1024)
    with connect(target.port) as sock:
        sock.sendall(post(body)[: -len(body)])
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may stop reading; the answer must still be readable
        answers, _ = read_answers(sock, 1)
    assert statuses(answers) == [413]


def test_a_chunked_body_over_the_limit_is_refused(target):
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    head = (
        f"POST {HELLO} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with connect(target.port) as sock:
        sock.sendall(head)
        try:
            for _ in range(8):  # 128 KiB, twice the limit
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        answers, _ = read_answers(sock, 1)
    assert statuses(answers) == [413]


def test_a_head_over_the_size_limit_is_refused_with_431(target, request):
    differs_under_gunicorn(request, target, "it limits each header field's size, not the whole head's")
    extra = "".join(f"X-Field-{n}: {'v' * 1000}\r\n" for n in range(10))  # 10 KiB in 10 fields
    assert statuses(exchange(target.port, post(extra=extra))) == [431]


def test_one_field_over_the_size_limit_is_refused_with_431(target):
    assert statuses(exchange(target.port, post(extra=f"X-Big: {'b' * 9000}\r\n"))) == [431]


def test_too_many_header_fields_are_refused_with_431(target):
    extra = "".join(f"X-Field-{n}: {n}\r\n" for n in range(25))
    assert statuses(exchange(target.port, post(extra=extra))) == [431]


# slow clients


def test_a_request_not_complete_in_time_gets_408(target, request):
    differs_under_gunicorn(request, target, "its gthread worker has no time limit for receiving a request")
    with connect(target.port, timeout=10) as sock:
        sock.sendall(post()[:40])
        answers, _ = read_answers(sock, 1, timeout=HTTP["header_timeout"] + 3)
    assert statuses(answers) == [408]
    assert json.loads(answers[0].body)["error"]["type"] == "RequestTimeout"


def test_an_idle_connection_is_closed_after_the_idle_timeout(target):
    with connect(target.port, timeout=10) as sock:
        sock.sendall(post())
        answers, _ = read_answers(sock, 1)
        assert statuses(answers) == [200]
        started = time.monotonic()
        more, closed = read_answers(sock, 1, timeout=HTTP["idle_timeout"] + 3)
    assert more == [] and closed
    assert time.monotonic() - started < HTTP["idle_timeout"] + 2


# TLS handshakes that fail


def reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize(
    "first_flight",
    [b"\x16", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b""],
    ids=["one-byte-then-reset", "plain-http", "garbage-hello", "connect-then-reset"],
)
def test_a_failed_tls_handshake_closes_that_connection_only(target, first_flight):
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", target.tls_port))
        if first_flight:
            sock.sendall(first_flight)
        reset(sock)
    time.sleep(0.2)
    answers = exchange(target.tls_port, post(), tls=client_context(target.ca))
    assert statuses(answers) == [200]


def test_a_client_that_stalls_the_handshake_does_not_stop_others(target):
    stalled = socket.create_connection(("127.0.0.1", target.tls_port))
    stalled.sendall(b"\x16\x03\x01")  # the start of a record, never finished
    try:
        answers = exchange(target.tls_port, post(), tls=client_context(target.ca))
        assert statuses(answers) == [200]
    finally:
        stalled.close()
