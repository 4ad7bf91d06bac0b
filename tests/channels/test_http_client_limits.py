"""The HTTP client against many callers and hostile servers: bounded connections, bounded answers.

Every test runs over both client transports, the pool (the default) and requests
(``http.client: requests``); the hostile servers' cases over the pool's asyncio side too.
(tests/channels/test_http_async_pool.py bounds the asyncio client's connections.)
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import msgspec
import pytest
from dependency_injector import providers

from container import (
    CallInterruptedException,
    InvalidResponseException,
    RemoteServiceException,
    ServiceContainer,
    ServiceManager,
    last_response,
)

from .conftest import SYNC_TRANSPORTS, client_manager, wire, with_transport
from .services import WireService

E = TypeVar("E", bound=BaseException)


def established_to(port: int) -> int:
    """Count this host's established TCP connections whose remote end is ``port``."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)
def test_a_thousand_short_lived_calling_threads_leave_at_most_the_pool_bound(server, base_url, transport):
    """1,000 threads, 50 at a time, share the transport's connections: at most pool_size stay open."""
    manager = client_manager(base_url, transport, http={"pool_size": 4})
    proxy = manager.get_service(WireService, preferred_channel="dispatch-msgpack")
    failures: list[BaseException] = []

    def call(index: int) -> None:
        try:
            assert proxy.hello(f"thread {index}") == f"thread {index}"
        except BaseException as exc:  # collected and reported by the test thread
            failures.append(exc)

    try:
        for batch in range(20):
            threads = [threading.Thread(target=call, args=(batch * 50 + n,)) for n in range(50)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert failures == []
        assert established_to(server.port) <= 4
    finally:
        manager.close()
    assert established_to(server.port) == 0


class HostileServer:
    """Answers every request on 127.0.0.1 with the same canned bytes, then closes.

    Given a list, it sends each piece in a TCP segment of its own, a moment apart.
    """

    def __init__(self, answer: bytes | list[bytes]) -> None:
        self.answer = [answer] if isinstance(answer, bytes) else answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with sock:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                # Read the body too (requests sends it apart from the head): closing with unread
                # bytes makes the kernel reset the connection, and the client would see that
                # reset instead of the answer under test.
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    for index, piece in enumerate(self.answer):
                        if index:
                            time.sleep(0.05)  # the client reads the piece before: a segment each
                        sock.sendall(piece)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def manager_for(port: int, transport: str, **http: object) -> ServiceManager:
    url = f"http://127.0.0.1:{port}"
    components = {name: {"dispatch-msgpack": [url]} for name in ("wire-component", "async-wire-component")}
    config = {
        "registry": {"type": "static", "components": components},
        "calls": {"timeout": 10},
        "http": http,
    }
    return ServiceContainer(config=providers.Object(with_transport(config, transport))).service_manager()


def refusal(port: int, transport: str, kind: type[E], **http: object) -> E:
    """Call ``hello`` once through a manager of its own; return the ``kind`` exception it raised."""
    manager = manager_for(port, transport, **http)
    try:
        with pytest.raises(kind) as caught:
            wire(manager, transport).hello("x")
    finally:
        manager.close()
    return caught.value


@pytest.fixture()
def hostile() -> Iterator[Callable[[bytes | list[bytes]], HostileServer]]:
    servers: list[HostileServer] = []

    def start(answer: bytes | list[bytes]) -> HostileServer:
        servers.append(HostileServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_declared_3_gib_answer_is_refused_cleanly(hostile, transport):
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nContent-Length: 3221225472\r\n\r\n"
        + b"\0" * 65536
    )
    assert "3221225472" in str(refusal(server.port, transport, InvalidResponseException))


def test_a_gzip_bomb_is_refused_at_the_size_limit(hostile, transport):
    bomb = gzip.compress(b"\0" * (256 * 1024 * 1024), compresslevel=9)  # 256 MiB from ~250 KiB
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
        + bomb
    )
    # The pool never decompresses (it asks for identity), so the codec refuses the bytes;
    # requests decompresses, counted against the limit as it goes.
    refusal(server.port, transport, InvalidResponseException, max_response_size=4 * 1024 * 1024)


def test_an_answer_over_the_limit_without_a_length_is_refused(hostile, transport):
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nConnection: close\r\n\r\n"
        + b"\xa1" * 300_000
    )
    refused = refusal(server.port, transport, InvalidResponseException, max_response_size=100_000)
    assert "100000" in str(refused)


RESULT = msgspec.msgpack.encode({"result": "final"})
FINAL = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nX-Final: yes\r\n"
    + f"Content-Length: {len(RESULT)}\r\n\r\n".encode()
    + RESULT
)


@pytest.mark.parametrize(
    "interim",
    [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"],
    ids=["100", "103"],
)
def test_an_interim_answer_in_its_own_segment_is_skipped(hostile, transport, interim):
    """A 1xx answer, then the final one a moment later: the caller gets the final one (RFC 9110, 15.2).

    The pool once took a 100 Continue that arrived alone for the answer. requests' http.client
    skips only ``100``: there a ``103`` is the answer, as docs/http.md says.
    """
    server = hostile([interim, FINAL])
    manager = manager_for(server.port, transport)
    try:
        proxy = wire(manager, transport)
        if transport == "requests" and b" 103 " in interim:
            with pytest.raises(RemoteServiceException) as caught:
                proxy.hello("x")
            assert caught.value.status == 103
            return
        with last_response() as answer:
            assert proxy.hello("x") == "final"
        if transport != "asyncio":  # Awaited runs each call in a task of its own: no last_response
            assert answer.metadata.get("x-final") == "yes" and "link" not in answer.metadata
    finally:
        manager.close()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * 1024 * 1024,
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Field-%d: %s\r\n" % (n, b"a" * 1000) for n in range(99)),
    ],
    ids=["one-endless-field", "99-fields-of-1-kib"],
)
def test_an_answer_head_over_64_kib_is_refused_as_it_arrives(hostile, transport, head):
    """A head that never ends (or endless interim answers) is refused at 64 KiB, not read to the deadline.

    The pool once buffered an endless head until the deadline (70 MiB in 4 s).
    """
    server = hostile(head)
    started = time.monotonic()
    refused = refusal(server.port, transport, InvalidResponseException)
    assert "head is longer than 65536 bytes" in str(refused)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("transport", ["pool", "asyncio"])
def test_endless_interim_answers_are_refused_at_64_kib_of_heads(hostile, transport):
    """10,000 ``100 Continue`` in a row count as one head: refused at 64 KiB.

    (requests' http.client skips interim answers without counting them: there, the deadline
    ends such a call; docs/http.md says so.)
    """
    server = hostile(b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000)
    refused = refusal(server.port, transport, InvalidResponseException)
    assert "head is longer than 65536 bytes" in str(refused)


def test_an_answer_with_both_content_length_and_transfer_encoding_is_refused(hostile, transport):
    """Both framings (RFC 9112, 6.2: a server must not send both): refused alike on every transport."""
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\n"
        + f"Content-Length: {len(RESULT)}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + f"{len(RESULT):x}\r\n".encode()
        + RESULT
        + b"\r\n0\r\n\r\n"
    )
    refused = refusal(server.port, transport, CallInterruptedException)
    assert "both Content-Length and Transfer-Encoding" in str(refused)
