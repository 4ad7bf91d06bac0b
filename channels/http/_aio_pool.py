"""Keep-alive HTTP/1.1 connections of the asyncio client: per event loop, bounded per URL.

The asyncio twin of :mod:`._connections`: a request is written in one buffer and the answer
parsed with httptools by the same :class:`~._connections.AnswerReader`, so both clients send the
same bytes and read answers alike. A connection is an :class:`asyncio.Protocol` (no streams:
an answer is parsed in ``data_received`` and handed to the waiting call through one future),
and belongs to the event loop that opened it; so each loop has a :class:`LoopPool` of its own,
made on the first call from that loop and closed when its keeper task is cancelled (what
``asyncio.run`` does to the tasks left when its coroutine returns) or when the transport closes.

A loop pool opens at most ``max_connections`` connections to one base URL (calls beyond it wait
for one, within their deadline) and keeps at most ``max_idle`` of them idle between calls. A
connection the server closed leaves the pool as soon as the loop sees it close.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import Callable
from typing import Any

import httptools

from ._connections import (
    AnswerReader,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    ExchangeError,
    ResponseTooLarge,
    Target,
    target_of,
    tls_failure,
)

Answer = tuple[int, bytes, str, dict[str, str]]
"""(status, body, content type, metadata), as the sync pool returns it."""


class _Refused(Exception):
    """The server refused the connection at its first read (a TLS alert): nothing was sent."""


class AsyncConnection(asyncio.Protocol):
    """One keep-alive connection: writes a request, parses its answer, resolves the call's future."""

    __slots__ = (
        "answer",
        "base",
        "fresh",
        "lost",
        "parser",
        "pool",
        "received",
        "tls",
        "transport",
        "waiter",
    )

    def __init__(self, pool: LoopPool, base: str, tls: bool = False) -> None:
        self.pool = pool
        self.base = base
        self.tls = tls
        self.fresh = True  # no exchange completed on it yet
        self.transport: asyncio.Transport | None = None
        self.answer: AnswerReader | None = None
        self.parser: Any = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.received = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not subclasses of asyncio's: no isinstance check here.)
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        answer, waiter = self.answer, self.waiter
        if answer is None or waiter is None or waiter.done():
            self.close()  # bytes nobody asked for (a 408 before the server closes): unusable
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, ResponseTooLarge):
                cause = ExchangeError(f"malformed answer: {exc}")
            self._fail(cause)
            return
        except httptools.HttpParserError as exc:
            self._fail(ExchangeError(f"malformed answer: {exc}"))
            return
        if answer.complete:
            self.answer = self.waiter = None
            self.fresh = False
            body = answer.body[0] if len(answer.body) == 1 else b"".join(answer.body)
            if not answer.keep_alive:
                self.close()
            waiter.set_result((answer.status, body, answer.content_type, answer.metadata))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.pool.forget(self)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if not self.received and isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason).upper():
                # TLS 1.3: a server refusing our certificate says so after our handshake
                # returned, at the first read; the request never reached the application.
                refused = f"the TLS handshake failed: the server answered with an alert ({exc.reason})"
                waiter.set_exception(_Refused(refused))
            elif self.tls and self.fresh and not self.received and isinstance(exc, ConnectionResetError):
                # The same refusal when the reset (the server closed on our unread request)
                # overtook its alert: the first exchange of a new TLS connection, nothing
                # answered. (The sync pool's blocked read takes the alert first.)
                waiter.set_exception(
                    _Refused(
                        "the TLS handshake failed: the server ended the connection before the "
                        f"request (did it refuse our certificate?) ({exc})"
                    )
                )
            else:
                detail = f": {exc}" if exc is not None else ""
                closed = f"the server closed the connection before answering{detail}"
                waiter.set_exception(ExchangeError(closed))

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        self.answer = self.waiter = None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def exchange(self, data: bytes, max_response: int) -> asyncio.Future[Answer]:
        """Write a request; return the future of its answer."""
        assert self.transport is not None
        answer = self.answer = AnswerReader(max_response)
        answer.parser = self.parser = httptools.HttpResponseParser(answer)
        waiter = self.waiter = self.pool.loop.create_future()
        self.received = False
        self.transport.write(data)
        return waiter

    def close(self) -> None:
        """Close the connection (at once: an abandoned exchange leaves it unusable)."""
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


class _Slots:
    """One base URL's connections on one loop: the idle ones, how many are open, who waits."""

    __slots__ = ("idle", "open", "waiting")

    def __init__(self) -> None:
        self.idle: collections.deque[AsyncConnection] = collections.deque()
        self.open = 0
        self.waiting: collections.deque[asyncio.Future[AsyncConnection | None]] = collections.deque()


class LoopPool:
    """The connections of one event loop, per base URL: at most ``max_connections`` open each.

    Args:
        loop: the event loop the connections belong to.
        max_connections: the most connections open to one base URL at a time.
        max_idle: the most idle connections kept per base URL.
        tls: returns the TLS context for ``https`` URLs.
        on_close: called with this pool once it is closed.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_connections: int,
        max_idle: int,
        tls: Callable[[], ssl.SSLContext],
        on_close: Callable[[LoopPool], Any],
    ) -> None:
        self.loop = loop
        self.max_connections = max_connections
        self.max_idle = max_idle
        self._tls = tls
        self._on_close = on_close
        self._slots: dict[str, _Slots] = {}
        self._targets: dict[str, Target] = {}
        self.closed = False
        self._keeper = loop.create_task(self._keep())

    async def _keep(self) -> None:
        """Wait until cancelled (the loop is being shut down) or the pool closes; then close."""
        try:
            await self.loop.create_future()
        finally:
            self.close()

    async def post(
        self,
        base: str,
        path: str,
        body: bytes,
        headers: str,
        connect_timeout: float,
        deadline: float | None,
        max_response: int,
    ) -> Answer:
        """POST ``body`` to ``base + path``; the arguments and failures of ``Pool.post`` (sync pool).

        Raises:
            ConnectError, ConnectTimeout: no connection could be made; nothing was sent.
            DeadlineExceeded: the deadline passed while waiting for a connection or the answer.
            ExchangeError: the connection broke after the request was (perhaps) sent, or the
                answer was not HTTP.
            ResponseTooLarge: the answer declared or sent more than ``max_response``.
            ConfigurationException: ``base`` is not an http:// or https:// URL.
        """
        target = self._targets.get(base)
        if target is None:
            target = self._targets[base] = target_of(base)
        prefix, host_header = target[3], target[4]
        head = f"POST {prefix}{path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: {len(body)}\r\n"
        data = (head + headers + "\r\n").encode("latin-1") + body
        slots = self._slots.get(base)
        if slots is None:
            slots = self._slots[base] = _Slots()
        connection = await self._acquire(slots, base, target, connect_timeout, deadline)
        waiter = connection.exchange(data, max_response)
        timer = None
        if deadline is not None:
            timer = self.loop.call_later(deadline - time.monotonic(), _expire, waiter)
        try:
            answer = await waiter
        except _Refused as exc:
            self._release(slots, connection)
            raise ConnectError(str(exc)) from exc
        except BaseException:
            # The deadline, a broken connection, or the caller cancelled: the exchange is
            # abandoned half way, so the connection cannot carry another call (and the server
            # sees the caller go).
            connection.close()
            self._release(slots, connection)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        self._release(slots, connection)
        return answer

    async def _acquire(
        self, slots: _Slots, base: str, target: Target, connect_timeout: float, deadline: float | None
    ) -> AsyncConnection:
        idle = slots.idle
        while idle:
            connection = idle.pop()
            if not connection.lost:
                return connection
        if slots.open >= self.max_connections:
            waiter: asyncio.Future[AsyncConnection | None] = self.loop.create_future()
            slots.waiting.append(waiter)
            timer = None
            if deadline is not None:
                timer = self.loop.call_later(deadline - time.monotonic(), _expire, waiter)
            try:
                handed = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    given = waiter.result()  # handed over as we were cancelled: pass it on
                    if given is not None:
                        self._release(slots, given)
                    else:
                        slots.open -= 1
                        self._wake(slots)
                else:
                    try:
                        slots.waiting.remove(waiter)
                    except ValueError:
                        pass
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if handed is not None:
                return handed
            # A slot was freed for us (slots.open counts it already): open a connection in it.
        else:
            slots.open += 1
        try:
            return await self._open(base, target, connect_timeout)
        except BaseException:
            slots.open -= 1
            self._wake(slots)
            raise

    async def _open(self, base: str, target: Target, connect_timeout: float) -> AsyncConnection:
        scheme, host, port, _, _ = target
        secure = scheme == "https"
        connection = AsyncConnection(self, base, secure)
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: connection,
                    host,
                    port,
                    ssl=self._tls() if secure else None,
                    server_hostname=host if secure else None,
                ),
                connect_timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeout("TLS handshake" if secure else "connect") from exc
        except ssl.SSLError as exc:
            raise ConnectError(tls_failure(exc)) from exc
        except OSError as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    def _release(self, slots: _Slots, connection: AsyncConnection) -> None:
        """The exchange is over: hand the connection to a waiting call, keep it idle, or close it."""
        if connection.lost or self.closed:
            connection.close()
            slots.open -= 1
            self._wake(slots)
            return
        waiting = slots.waiting
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if len(slots.idle) < self.max_idle:
            slots.idle.append(connection)
        else:
            connection.close()
            slots.open -= 1

    def _wake(self, slots: _Slots) -> None:
        """A slot is free: let the first waiting call open a connection in it."""
        waiting = slots.waiting
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                slots.open += 1
                waiter.set_result(None)
                return

    def forget(self, connection: AsyncConnection) -> None:
        """A connection closed: drop it from the idle ones (it counts as open until released)."""
        slots = self._slots.get(connection.base)
        if slots is not None and connection in slots.idle:
            slots.idle.remove(connection)
            slots.open -= 1
            self._wake(slots)

    def idle_count(self) -> int:
        """Return the number of idle connections held now (every URL)."""
        return sum(len(slots.idle) for slots in self._slots.values())

    def open_count(self) -> int:
        """Return the number of connections open now, busy or idle (every URL)."""
        return sum(slots.open for slots in self._slots.values())

    def close(self) -> None:
        """Close the idle connections (busy ones close when their call ends); on the loop's thread."""
        if self.closed:
            return
        self.closed = True
        for slots in self._slots.values():
            while slots.idle:
                slots.idle.pop().close()
                slots.open -= 1
            while slots.waiting:
                waiter = slots.waiting.popleft()
                if not waiter.done():
                    waiter.set_exception(ConnectError("the client transport was closed"))
        if not self._keeper.done() and self._keeper is not asyncio.current_task(self.loop):
            self._keeper.cancel()
        self._on_close(self)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(DeadlineExceeded())


class AsyncPool:
    """The asyncio client's connections: one :class:`LoopPool` per event loop that calls.

    Args:
        max_connections: the most connections open to one base URL on one loop.
        max_idle: the most idle connections kept per base URL on one loop.
        tls: returns the TLS context for ``https`` URLs (called at the first one).
    """

    def __init__(self, max_connections: int, max_idle: int, tls: Callable[[], ssl.SSLContext]) -> None:
        self.max_connections = max_connections
        self.max_idle = max_idle
        self._tls_factory = tls
        self._context: ssl.SSLContext | None = None
        self._loops: dict[asyncio.AbstractEventLoop, LoopPool] = {}
        self.closed = False

    def _tls(self) -> ssl.SSLContext:
        context = self._context
        if context is None:
            context = self._context = self._tls_factory()
        return context

    def for_loop(self, loop: asyncio.AbstractEventLoop) -> LoopPool:
        """Return the pool of ``loop`` (made now on its first call)."""
        found = self._loops.get(loop)
        if found is None:
            if self.closed:
                raise ConnectError("the client transport was closed")
            for old in [old for old in self._loops if old.is_closed()]:
                del self._loops[old]  # a loop closed without cancelling our keeper
            found = self._loops[loop] = LoopPool(
                loop, self.max_connections, self.max_idle, self._tls, self._forget
            )
        return found

    def _forget(self, pool: LoopPool) -> None:
        if self._loops.get(pool.loop) is pool:
            del self._loops[pool.loop]

    def loop_pools(self) -> list[LoopPool]:
        """Return the pools of the loops that called and are not closed."""
        return list(self._loops.values())

    def close(self) -> None:
        """Close every loop's idle connections: at once on this thread's loop, else on their loop."""
        self.closed = True
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for pool in list(self._loops.values()):
            if pool.loop is current:
                pool.close()
            elif not pool.loop.is_closed():
                try:
                    pool.loop.call_soon_threadsafe(pool.close)
                except RuntimeError:  # the loop closed meanwhile
                    pass
        self._loops.clear()
