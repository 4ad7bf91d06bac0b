"""The embedded HTTP/1.1 server on an asyncio event loop: for services whose methods are ``async def``.

The same requests in and answers out as the threaded engine (:mod:`._engine`): the same
:class:`~._protocol.RequestReader` (httptools, limits counted as bytes arrive), the same
frontend, the same limits and the same answers to hostile clients. What differs is where an
answer is computed: each request becomes a task on this loop that awaits
:meth:`Dispatcher.handle_async <container.plugin.Dispatcher.handle_async>`, so an ``async def``
implementation runs on the loop that read its request, without a thread switch (a ``def``
implementation runs in the dispatcher's worker pool). When the caller's connection closes
while its call runs, the task is cancelled, and with it the implementation's coroutine.

One loop, in a thread of its own, does every socket operation (accept, TLS handshake, read,
write); a connection's failure closes that connection only. Chosen by ``http.server``
(docs/http.md, "The server's event loop"): measured in bench/README.md ("Async services").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._engine import connection_cap, raise_descriptor_limit
from ._protocol import CONTINUE, HttpAnswer, HttpDate, HttpRequest, Limits, RequestReader, encode_answer

__all__ = ["AsyncioEngine"]

logger = logging.getLogger("servicewire.http")

SWEEP = 0.25
"""Seconds between two checks of the time limits."""

HIGH_WATER = 65536
"""Unsent answer bytes of a connection above which reading pauses (asyncio's write buffer)."""

AsyncHandler = Callable[[HttpRequest], Awaitable[HttpAnswer]]
Precheck = Callable[[HttpRequest], "HttpAnswer | None"]

_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Connection(asyncio.Protocol):
    """One client connection: reads requests, runs one at a time as a task, writes the answers."""

    def __init__(self, engine: AsyncioEngine) -> None:
        self.engine = engine
        self.transport: Any = None
        self.reader: RequestReader | None = None
        self.peer = ""
        self.address = ""
        self.task: asyncio.Task[None] | None = None
        self.counted = False  # a request was handed to a task and is not yet answered
        self.continue_asked = False
        self.closing = False  # close once the answer is written (then linger)
        self.read_eof = False
        self.reading = True
        self.write_paused = False
        self.paused_since = 0.0
        self.linger_until = 0.0
        self.last_active = time.monotonic()
        self.closed = False

    @property
    def idle(self) -> bool:
        """Nothing in progress: no request being received, waiting or answered."""
        reader = self.reader
        return not (
            self.task is not None
            or self.write_paused
            or self.closing
            or reader is None
            or reader.requests
            or reader.receiving
        )

    # asyncio's callbacks: each guarded, so that a failure closes this connection only

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        engine = self.engine
        address = transport.get_extra_info("peername")
        host = str(address[0]) if isinstance(address, tuple) else str(address or "")
        self.address = host
        self.peer = f"{host}:{address[1]}" if isinstance(address, tuple) else host
        if not engine.admit(self):
            self.closing = True
            self.transport.write(_REFUSED)
            self._linger()
            return
        self.reader = RequestReader(engine.limits, self.peer, transport.get_extra_info("peercert") or None)
        engine.connections.add(self)
        engine.per_address[host] = engine.per_address.get(host, 0) + 1

    def data_received(self, data: bytes) -> None:
        try:
            self.last_active = time.monotonic()
            reader = self.reader
            if self.linger_until or reader is None:
                return  # lingering: what a refused client still sends is read and dropped
            before = len(reader.requests)
            reader.feed(data)
            self.engine.outstanding += len(reader.requests) - before
            if self.task is not None:
                if reader.requests or reader.refusal is not None:
                    self._read(False)  # wait until the call in progress is answered
                return
            self._advance()
        except Exception:
            logger.exception("connection from %s failed", self.peer)
            self.abort()

    def eof_received(self) -> bool:
        self.read_eof = True
        task = self.task
        if self.linger_until or (task is not None and not task.done()):
            # A refused client is done; or a caller closed while its call runs: it went away
            # (as uvicorn sees it), so the call is cancelled when the connection closes.
            return False
        self._advance()
        return True  # keep the connection to write the answer still owed

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        engine = self.engine
        if self in engine.connections and self.reader is not None:
            engine.connections.discard(self)
            count = engine.per_address.get(self.address, 1) - 1
            if count <= 0:
                engine.per_address.pop(self.address, None)
            else:
                engine.per_address[self.address] = count
            # Requests received and now never answered: the server no longer owes them.
            engine.outstanding -= len(self.reader.requests)
            self.reader.requests.clear()
        task = self.task
        if task is not None and not task.done():
            task.cancel()  # the caller went away: its call is cancelled (an async one stops)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.paused_since = time.monotonic()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.last_active = time.monotonic()
        self._advance()

    # what the connection does next

    def _advance(self) -> None:
        if self.closed or self.task is not None:
            return
        reader = self.reader
        assert reader is not None
        engine = self.engine
        if not self.write_paused and not self.closing:
            if reader.requests:
                request = reader.requests.popleft()
                self.counted = True
                self.task = engine.loop.create_task(self._serve(request))
                # Reading goes on while no other request waits: a caller that goes away is
                # seen (and its call cancelled); a pipelined request is parsed no further.
                self._read(not reader.requests and not self.read_eof)
                return
            if reader.refusal is not None:
                self.closing = True
                refusal = reader.refusal
                answer = engine.refusal(refusal.status, refusal.message)
                self.transport.write(encode_answer(answer, engine.date(), False, "1.1"))
                self._linger()
                return
            if reader.awaiting_continue is not None and not self.continue_asked:
                self.continue_asked = True
                self.task = engine.loop.create_task(self._check(reader.awaiting_continue))
                return
        if reader.awaiting_continue is None:
            self.continue_asked = False
        if self.read_eof and not reader.requests and not self.write_paused:
            self.transport.close()
            return
        self._read(
            not self.write_paused
            and not self.closing
            and not self.read_eof
            and reader.refusal is None
            and not reader.requests
        )

    def _read(self, wanted: bool) -> None:
        if wanted != self.reading:
            self.reading = wanted
            if wanted:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    async def _serve(self, request: HttpRequest) -> None:
        engine = self.engine
        try:
            answer = await engine.handler(request)
        except asyncio.CancelledError:
            self._done()
            raise
        except Exception:  # one request's failure must not stop the connection
            logger.exception("answering %s %s from %s failed", request.method, request.target, request.peer)
            answer = engine.refusal(500, "the server failed to answer; it logged why")
        self._done()
        if self.closed:
            return
        keep = request.keep_alive and not engine.stopping and not self.read_eof
        self.transport.write(
            encode_answer(answer, engine.date(), keep, request.version, request.method == "HEAD")
        )
        self.last_active = time.monotonic()
        if not keep:
            self.closing = True
            self.transport.close()
            return
        self._advance()

    def _done(self) -> None:
        self.task = None
        if self.counted:
            self.counted = False
            self.engine.outstanding -= 1

    async def _check(self, request: HttpRequest) -> None:
        """Decide whether a client waiting for ``100 Continue`` gets it, or the answer at once."""
        engine = self.engine
        try:
            answer = await engine.loop.run_in_executor(engine.pool, engine.precheck, request)
        except asyncio.CancelledError:
            self.task = None
            raise
        except Exception:
            logger.exception("checking %s %s from %s failed", request.method, request.target, request.peer)
            answer = engine.refusal(500, "the server failed to answer; it logged why")
        self.task = None
        if self.closed:
            return
        reader = self.reader
        assert reader is not None
        if answer is None:
            if reader.awaiting_continue is not None:  # the body has not all arrived yet
                reader.awaiting_continue = None
                self.transport.write(CONTINUE)
            self._advance()
            return
        # Refused before the body: answer, and close (the body may still come).
        reader.awaiting_continue = None
        self.closing = True
        self.transport.write(encode_answer(answer, engine.date(), False, request.version))
        self._linger()

    def _linger(self) -> None:
        """Stop sending and read what the client still sends, a while, so it can read our answer.

        Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
        answer before the client read it (a client still sending a refused upload).
        """
        limit = self.engine.limits.header_timeout
        self.linger_until = time.monotonic() + limit
        self.engine.loop.call_later(limit, self.abort)
        self._read(True)
        try:
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:
                self.transport.close()  # TLS: close_notify after the answer
        except (OSError, RuntimeError):
            self.abort()

    def timed_out(self) -> None:
        """A request not complete in time: say 408 (so a slow client can tell), then close."""
        engine = self.engine
        answer = engine.refusal(
            408, f"the request was not complete within {engine.limits.header_timeout:g} s"
        )
        self.transport.write(encode_answer(answer, engine.date(), False, "1.1"))
        self.transport.close()

    def abort(self) -> None:
        """Close at once."""
        if self.transport is not None:
            self.transport.abort()


class AsyncioEngine:
    """The server on an asyncio loop in a thread of its own: bind, start, then stop accepting, drain, close.

    The interface of :class:`~._engine.HttpEngine`, so that :class:`~._server.HttpServer`
    runs either.

    Args:
        handler: answers each complete request (a coroutine function, run on the loop).
        limits: what the server accepts.
        workers: threads running ``precheck`` (and what the handler moves to threads).
        tls: the server's TLS context, or None for plain HTTP.
        refusal: builds the answer to a request the server refuses itself (status, message).
        precheck: decides, before ``100 Continue`` is sent, whether a request whose client
            waits for it would be served (run in a thread).
    """

    def __init__(
        self,
        handler: Callable[[HttpRequest, Callable[..., Awaitable[Any]]], Awaitable[HttpAnswer]],
        limits: Limits,
        workers: int = 8,
        tls: ssl.SSLContext | None = None,
        refusal: Callable[[int, str], HttpAnswer] = lambda status, message: HttpAnswer(
            status, message.encode(), "text/plain; charset=utf-8"
        ),
        precheck: Precheck = lambda request: None,
    ) -> None:
        self._answer = handler
        self.refusal = refusal
        self.precheck = precheck
        self.limits = limits
        self.workers = workers
        self.tls = tls
        self.port = 0
        self.max_connections = limits.max_connections
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="servicewire-http-aio")
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(self.pool)
        self.connections: set[_Connection] = set()
        self.per_address: dict[str, int] = {}
        self.outstanding = 0  # requests received and not yet answered (loop thread only)
        self.stopping = False
        self.date = HttpDate()
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def handler(self, request: HttpRequest) -> HttpAnswer:
        """Answer one request on the loop (what every connection awaits)."""
        return await self._answer(request, self._in_thread)

    def _in_thread(self, function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return self.loop.run_in_executor(self.pool, function, *args)

    # lifecycle

    def bind(self, host: str, port: int) -> int:
        """Bind and listen; return the bound port."""
        server = self.loop.run_until_complete(
            self.loop.create_server(
                lambda: _Connection(self),
                host,
                port,
                backlog=1024,
                ssl=self.tls,
                ssl_handshake_timeout=self.limits.header_timeout if self.tls is not None else None,
                start_serving=False,
            )
        )
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    def start(self) -> None:
        """Raise the descriptor limit and start the loop's thread."""
        assert self._server is not None, "bind() first"
        descriptors = raise_descriptor_limit()
        self.max_connections = connection_cap(self.limits.max_connections, descriptors)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"servicewire-http-{self.port}", daemon=True)
        self._thread.start()
        started.wait()
        # Listening starts here (asyncio calls listen() when serving starts): wait for it, so
        # that the port accepts connections once start() returns.
        asyncio.run_coroutine_threadsafe(self._server.start_serving(), self.loop).result(10)
        self._call(self._begin)

    def _begin(self) -> None:
        self._sweeper = self.loop.call_later(SWEEP, self._sweep)

    def _call(self, function: Callable[[], Any]) -> None:
        """Run ``function`` on the loop and wait for it."""
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                function()
            except BaseException as exc:  # handed to the caller
                failure.append(exc)
            finally:
                done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(10)
        if failure:
            raise failure[0]

    def stop_accepting(self) -> None:
        """Close the listening socket and the idle connections; requests received go on."""
        self.stopping = True

        def stop() -> None:
            if self._server is not None:
                self._server.close()
            for connection in list(self.connections):
                if connection.idle:
                    connection.abort()

        if self._thread is not None and self._thread.is_alive():
            self._call(stop)

    def drain(self, timeout: float) -> bool:
        """Wait until every request received is answered; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while self.outstanding > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Close every connection, stop the loop and its thread."""
        if self._thread is not None and self._thread.is_alive():
            self._call(self._close_all)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self._finish()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.abort()

    def _finish(self) -> None:
        loop = self.loop
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if self._server is not None:
                self._server.close()
                loop.run_until_complete(self._server.wait_closed())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    @property
    def open_connections(self) -> int:
        """The connections open now."""
        return len(self.connections)

    # admission and time limits (on the loop)

    def admit(self, connection: _Connection) -> bool:
        """Whether a new connection may stay: within the caps, or after the oldest idle made room."""
        limits = self.limits
        if self.stopping:
            return False
        if self.per_address.get(
            connection.address, 0
        ) >= limits.max_connections_per_peer and not self._make_room(connection.address):
            return False
        return len(self.connections) < self.max_connections or self._make_room(None)

    def _make_room(self, address: str | None) -> bool:
        idle = [c for c in self.connections if c.idle and (address is None or c.address == address)]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.last_active)
        oldest.abort()
        self.connections.discard(oldest)
        count = self.per_address.get(oldest.address, 1) - 1
        if count <= 0:
            self.per_address.pop(oldest.address, None)
        else:
            self.per_address[oldest.address] = count
        oldest.reader = None  # counted out here already
        return True

    def _sweep(self) -> None:
        now = time.monotonic()
        limits = self.limits
        try:
            for connection in list(self.connections):
                reader = connection.reader
                if connection.linger_until:
                    pass  # aborted by its own timer
                elif connection.write_paused:
                    if now - connection.paused_since > limits.write_timeout:
                        logger.info(
                            "%s did not read its answer for %.0f s", connection.peer, limits.write_timeout
                        )
                        connection.abort()
                elif connection.task is not None or reader is None or reader.requests:
                    pass  # the server is busy with this connection: its time is not the client's
                elif reader.receiving:
                    started = reader.started
                    assert started is not None
                    if now - started > limits.header_timeout:
                        connection.timed_out()
                elif now - connection.last_active > limits.idle_timeout:
                    connection.abort()
        except Exception:
            logger.exception("the HTTP server's sweep failed; it goes on")
        self._sweeper = self.loop.call_later(SWEEP, self._sweep)
