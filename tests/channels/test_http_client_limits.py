"""The HTTP client against many callers and hostile servers: bounded connections, bounded answers.

Every test runs over both client transports, the pool (the default) and requests
(``http.client: requests``); the hostile servers' cases over the pool's asyncio side too.
(tests/channels/test_http_async_pool.py bounds the asyncio client's connections.)
"""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from dependency_injector import providers

from container import InvalidResponseException, ServiceContainer, ServiceManager

from .conftest import SYNC_TRANSPORTS, client_manager, wire, with_transport
from .services import WireService


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
    """Answers every request on 127.0.0.1 with the same canned bytes, then closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
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
                try:
                    sock.sendall(self.answer)
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


@pytest.fixture()
def hostile() -> Iterator[Callable[[bytes], HostileServer]]:
    servers: list[HostileServer] = []

    def start(answer: bytes) -> HostileServer:
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
    manager = manager_for(server.port, transport)
    try:
        proxy = wire(manager, transport)
        with pytest.raises(InvalidResponseException, match="3221225472"):
            proxy.hello("x")
    finally:
        manager.close()


def test_a_gzip_bomb_is_refused_at_the_size_limit(hostile, transport):
    bomb = gzip.compress(b"\0" * (256 * 1024 * 1024), compresslevel=9)  # 256 MiB from ~250 KiB
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(bomb)}\r\n\r\n".encode()
        + bomb
    )
    manager = manager_for(server.port, transport, max_response_size=4 * 1024 * 1024)
    try:
        proxy = wire(manager, transport)
        # The pool never decompresses (it asks for identity), so the codec refuses the bytes;
        # requests decompresses, counted against the limit as it goes.
        with pytest.raises(InvalidResponseException):
            proxy.hello("x")
    finally:
        manager.close()


def test_an_answer_over_the_limit_without_a_length_is_refused(hostile, transport):
    server = hostile(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/msgpack\r\nConnection: close\r\n\r\n"
        + b"\xa1" * 300_000
    )
    manager = manager_for(server.port, transport, max_response_size=100_000)
    try:
        proxy = wire(manager, transport)
        with pytest.raises(InvalidResponseException, match="100000"):
            proxy.hello("x")
    finally:
        manager.close()
