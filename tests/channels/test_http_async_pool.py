"""The asyncio client of the HTTP channels, below the pipeline: its pool, deadlines and cancellation.

``PoolTransport.send_async`` is driven directly with encoded requests, as the pipeline drives it,
against real servers on 127.0.0.1: the embedded server, and raw sockets that hold, count or
cut connections. What a user of ``async def`` methods relies on: the same bytes on the wire as
the sync pool, a bounded number of connections however many tasks call, connections that belong
to the event loop that opened them and close with it, every step bounded by the deadline, and a
cancelled call that closes its connection (so the server sees the caller go).
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from channels.http import PoolTransport
from container import (
    CallInterruptedException,
    InvalidResponseException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.plugin import Request, Response, Settings

HELLO = "wire-component/wire-test/hello"


def hello_request(
    text: str = "x", timeout: float | None = 5.0, metadata: dict[str, str] | None = None
) -> Request:
    body = json.dumps({"args": [text], "kwargs": {}}).encode()
    deadline = None if timeout is None else time.monotonic() + timeout
    return Request(HELLO, body, "application/json", metadata or {}, deadline, 2.0, timeout or 0.0)


def transport_of(**http: object) -> PoolTransport:
    return PoolTransport(Settings({"http": http}))


class Holder:
    """Accepts connections on 127.0.0.1, reads each request, and answers only when told (or never)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self.closed_by_client = threading.Event()
        self.got_request = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        try:
            with sock:
                while True:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            self.closed_by_client.set()
                            return
                        data += chunk
                    self.got_request.set()
                    while not self.release.wait(0.02):
                        readable, _, _ = select.select([sock], [], [], 0)
                        if readable and not sock.recv(1, socket.MSG_PEEK):
                            self.closed_by_client.set()  # the caller went away while held
                            return
                    body = b'{"result": "held"}'
                    sock.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body)
                    )
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1

    def close(self) -> None:
        self.release.set()
        self.listener.close()


@pytest.fixture
def holder() -> Iterator[Holder]:
    server = Holder()
    yield server
    server.close()


def test_a_call_from_an_event_loop_gets_the_same_answer_as_the_sync_pool(base_url):
    """The same request through send and send_async: the same status, body and content type."""
    transport = transport_of()

    async def call() -> Response:
        try:
            return await transport.send_async(base_url, hello_request("from a loop"))
        finally:
            await transport.aclose()

    answer = asyncio.run(call())
    sync = transport_of()
    try:
        expected = sync.send(base_url, hello_request("from a loop"))
    finally:
        sync.close()
    assert (answer.status, answer.body, answer.content_type) == (
        200,
        b'{"result":"from a loop"}',
        "application/json",
    )
    assert (answer.status, answer.body, answer.content_type) == (
        expected.status,
        expected.body,
        expected.content_type,
    )


def test_both_pools_write_the_same_request_bytes():
    """Configured header fields, the codec's, the call's metadata (it wins over a configured one)."""
    heads: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def serve() -> None:
        for _ in range(2):
            sock, _ = listener.accept()
            with sock:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                heads.append(data.partition(b"\r\n\r\n")[0])
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    http = {"headers": {"X-Tenant": "acme", "X-Trace": "configured"}}
    request = hello_request(timeout=None, metadata={"x-trace": "the-call's"})
    sync, aio = transport_of(**http), transport_of(**http)
    try:
        sync.send(url, request)
        asyncio.run(aio.send_async(url, request))
    finally:
        sync.close()
        aio.close()
        thread.join(5)
        listener.close()
    assert heads[0] == heads[1]
    head = heads[0].decode("latin-1").lower()
    assert "\r\nx-tenant: acme" in head and "\r\nx-trace: the-call's" in head and "configured" not in head


def test_two_hundred_tasks_share_at_most_connections_per_url_connections(holder):
    """However many tasks call at once, the loop opens at most http.connections_per_url connections."""
    transport = transport_of(connections_per_url=4, pool_size=2)

    async def many() -> list[Response]:
        calls = [asyncio.ensure_future(transport.send_async(holder.url, hello_request())) for _ in range(200)]
        await asyncio.get_running_loop().run_in_executor(None, holder.got_request.wait, 5)
        await asyncio.sleep(0.2)  # every task that could open a connection has tried
        opened = holder.accepted
        holder.release.set()
        answers = await asyncio.gather(*calls)
        pool = transport.async_pool.for_loop(asyncio.get_running_loop())
        assert opened == 4 and pool.idle_count() == 2 and pool.open_count() == 2
        await transport.aclose()
        return answers

    answers = asyncio.run(many())
    assert len(answers) == 200 and all(a.status == 200 for a in answers)
    assert holder.most_open == 4 and holder.accepted == 4


def test_connections_belong_to_their_loop_and_close_when_asyncio_run_ends(base_url, server):
    """Each asyncio.run has its own connections; when it returns, they are closed (no unclosed sockets)."""
    transport = transport_of()

    async def call() -> int:
        await transport.send_async(base_url, hello_request())
        return transport.async_pool.for_loop(asyncio.get_running_loop()).idle_count()

    try:
        assert asyncio.run(call()) == 1
        assert transport.async_pool.loop_pools() == []  # the keeper closed the first loop's pool
        assert asyncio.run(call()) == 1
        assert transport.async_pool.loop_pools() == []
    finally:
        transport.close()


def test_a_call_from_another_threads_loop_uses_that_loops_connections(base_url):
    """Two threads, each with its own event loop, call through one transport: one pool per loop."""
    transport = transport_of()
    seen: list[asyncio.AbstractEventLoop] = []

    async def call() -> None:
        await transport.send_async(base_url, hello_request())
        seen.extend(pool.loop for pool in transport.async_pool.loop_pools())

    threads = [threading.Thread(target=asyncio.run, args=(call(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    transport.close()
    assert len(set(seen)) == 2


def test_a_deadline_that_passes_while_the_server_holds_the_call(holder):
    """The server reads the request and never answers: a deadline timeout (sent), the connection closed."""
    transport = transport_of()

    async def call() -> None:
        try:
            await transport.send_async(holder.url, hello_request(timeout=0.5))
        finally:
            await transport.aclose()

    started = time.monotonic()
    with pytest.raises(ServiceTimeoutException) as info:
        asyncio.run(call())
    assert time.monotonic() - started < 2
    assert info.value.limit == "deadline" and info.value.sent is True
    assert holder.closed_by_client.wait(5)


def test_a_deadline_that_passes_while_waiting_for_a_connection(holder):
    """At the connection cap, a call waits for a free connection only until its deadline."""
    transport = transport_of(connections_per_url=1)

    async def calls() -> None:
        first = asyncio.ensure_future(transport.send_async(holder.url, hello_request(timeout=5)))
        await asyncio.get_running_loop().run_in_executor(None, holder.got_request.wait, 5)
        try:
            with pytest.raises(ServiceTimeoutException) as info:
                await transport.send_async(holder.url, hello_request(timeout=0.2))
            assert info.value.limit == "deadline"
        finally:
            holder.release.set()
            await first
            await transport.aclose()

    asyncio.run(calls())
    assert holder.accepted == 1


def test_cancelling_the_awaiting_task_closes_its_connection(holder):
    """The caller cancels: the connection is closed at once, so the server sees the caller go."""
    transport = transport_of()

    async def call() -> None:
        task = asyncio.ensure_future(transport.send_async(holder.url, hello_request(timeout=30)))
        await asyncio.get_running_loop().run_in_executor(None, holder.got_request.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool = transport.async_pool.for_loop(asyncio.get_running_loop())
        assert pool.open_count() == 0 and pool.idle_count() == 0
        await transport.aclose()

    asyncio.run(call())
    assert holder.closed_by_client.wait(5)


def test_nothing_listening_is_unavailable_and_not_sent():
    """No listener: ServiceUnavailableException, sent False (failover may go elsewhere)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = transport_of()
    with pytest.raises(ServiceUnavailableException) as info:
        asyncio.run(transport.send_async(f"http://127.0.0.1:{port}", hello_request()))
    transport.close()
    assert info.value.sent is False and f"cannot reach http://127.0.0.1:{port}" in str(info.value)
    assert str(info.value).endswith(": the connection failed (Connection refused)")


def test_a_full_backlog_is_a_connect_timeout():
    """A listener whose backlog is full never completes the handshake: a connect timeout, nothing sent."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    transport = transport_of()
    request = hello_request()
    request = Request(request.path, request.body, request.content_type, {}, request.deadline, 0.3, 5.0)
    try:
        with pytest.raises(ServiceTimeoutException) as info:
            asyncio.run(transport.send_async(f"http://127.0.0.1:{port}", request))
    finally:
        transport.close()
        filler.close()
        listener.close()
    assert info.value.limit == "connect" and info.value.sent is False


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"", CallInterruptedException),
        (b"NOT HTTP AT ALL\r\n\r\n", CallInterruptedException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\n", InvalidResponseException),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" + b"x" * 0x4000,
            InvalidResponseException,
        ),
    ],
    ids=["closed-after-the-request", "not-http", "declared-too-large", "streamed-too-large"],
)
def test_failures_after_sending_are_classified_as_the_sync_pool_does(answer, expected):
    """The same exception and 'sent' as the sync pool, for each way an exchange can fail."""
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def serve() -> None:
        for _ in range(2):
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with sock:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                sock.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    seen = []
    sync, aio = transport_of(max_response_size=10_000), transport_of(max_response_size=10_000)
    try:
        with pytest.raises(expected) as by_sync:
            sync.send(url, hello_request())
        with pytest.raises(expected) as by_async:
            asyncio.run(aio.send_async(url, hello_request()))
        seen = [(type(e.value), e.value.sent) for e in (by_sync, by_async)]
    finally:
        sync.close()
        aio.close()
        listener.close()
        thread.join(5)
    assert seen[0] == seen[1] and seen[0][1] is True
