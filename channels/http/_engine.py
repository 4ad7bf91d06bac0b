"""The embedded HTTP/1.1 server: httptools parses, one selector thread waits, worker threads answer.

One **selector thread** owns the listening socket and every connection that is idle or still
receiving a request: it reads without blocking and feeds httptools' parser (the C parser of
uvicorn), so idle keep-alive connections, slow clients and half-sent requests cost a file
descriptor and a few hundred bytes, never a thread. A connection whose request is complete goes
to a **worker**, which answers it and, while no other connection is waiting for a worker,
lingers a few milliseconds for the next request on the same connection: a client calling
continuously is served without handing its connection back and forth.

Limits that hold under hostile clients (see :class:`Limits`): a connection cap (the oldest idle
connection is closed to make room, or the new one refused when none is idle), a time limit for
receiving a request once it started (slowloris), an idle timeout, the body size checked from
Content-Length before any of the body is read and counted as a chunked body arrives, and limits
on the size and the number of header fields. TLS, with optional client certificates (mTLS), is
a :class:`ssl.SSLContext`; its handshake happens in the selector thread, bounded like a request.
"""

from __future__ import annotations

import collections
import email.utils
import errno
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import httptools

logger = logging.getLogger("servicewire.http")

REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

LINGER = 0.005
"""Seconds a worker waits on a connection for its next request before handing it back."""

SWEEP = 0.25
"""Seconds between two checks of the idle and request time limits."""


@attrs.frozen
class Limits:
    """What the server accepts. Every limit is configurable under ``http:`` (see docs/http.md).

    Attributes:
        max_connections: open connections at most; at the cap, the oldest idle connection is
            closed to make room, or the new one is refused when none is idle.
        header_timeout: seconds a client has to send a whole request (and to finish the TLS
            handshake) once it started.
        idle_timeout: seconds an idle keep-alive connection is kept.
        write_timeout: seconds a worker waits for a client to take an answer.
        max_body_size: the largest request body, bytes (413).
        max_header_size: the largest request line and header fields together, bytes (431).
        max_header_count: the most header fields in a request (431).
    """

    max_connections: int = 1024
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    write_timeout: float = 30.0
    max_body_size: int = 8 * 1024 * 1024
    max_header_size: int = 64 * 1024
    max_header_count: int = 100


class HttpRequest:
    """One complete request.

    Attributes:
        method: ``"POST"``, ``"GET"``, ...
        target: the request target as sent (never decoded).
        headers: the header fields by lowercase name (repeated fields joined with ``, ``).
        body: the body.
        keep_alive: whether the client wants the connection kept open.
        peer: the client's address, ``host:port``.
        peer_certificate: the client's certificate (mTLS), as :meth:`ssl.SSLSocket.getpeercert`
            returns it, or None.
    """

    __slots__ = ("body", "headers", "keep_alive", "method", "peer", "peer_certificate", "target")

    def __init__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        keep_alive: bool,
        peer: str,
        peer_certificate: Any,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.peer = peer
        self.peer_certificate = peer_certificate


class HttpAnswer:
    """What to send back.

    Attributes:
        status: the status code.
        body: the body.
        content_type: its content type ("" for none).
        headers: further header fields.
    """

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


Handler = Callable[[HttpRequest], HttpAnswer]


class _Refused(Exception):
    """Raised from a parser callback: answer with this and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Connection:
    """One client connection: its socket, its parser, the requests it completed."""

    def __init__(self, engine: HttpEngine, sock: socket.socket, peer: str, handshaking: bool) -> None:
        self.engine = engine
        self.sock = sock
        self.peer = peer
        self.handshaking = handshaking
        self.parser = httptools.HttpRequestParser(self)
        self.ready: collections.deque[HttpRequest] = collections.deque()
        self.refusal: _Refused | None = None
        self.started: float | None = time.monotonic() if handshaking else None
        self.last_active = time.monotonic()
        self.peer_certificate: Any = None
        self._reset_message()

    def _reset_message(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0

    # parser callbacks

    def on_message_begin(self) -> None:
        self.started = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow_head(len(name) + len(value))
        limits = self.engine.limits
        if len(self._headers) >= limits.max_header_count:
            raise _Refused(431, f"more than {limits.max_header_count} header fields")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.engine.limits.max_header_size:
            raise _Refused(431, f"the request head is larger than {self.engine.limits.max_header_size} bytes")

    def on_headers_complete(self) -> None:
        limit = self.engine.limits.max_body_size
        length = self._headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise _Refused(400, f"Content-Length {length!r} is not a number") from None
            if declared > limit:
                raise _Refused(413, f"the body of {declared} bytes is larger than the limit of {limit} bytes")
        if self._headers.get("expect", "").lower() == "100-continue":
            try:
                self.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                pass  # the client sends the body anyway after a while

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        limit = self.engine.limits.max_body_size
        if self._body_size > limit:
            raise _Refused(413, f"the body is larger than the limit of {limit} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        self.ready.append(
            HttpRequest(
                parser.get_method().decode("latin-1"),
                self._url.decode("latin-1"),
                self._headers,
                b"".join(self._body),
                parser.should_keep_alive(),
                self.peer,
                self.peer_certificate,
            )
        )
        self.started = None
        self._reset_message()

    # feeding

    def feed(self, data: bytes) -> None:
        """Parse ``data``; a request that cannot be served sets :attr:`refusal`."""
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            self.refusal = refused if isinstance(refused, _Refused) else _Refused(400, "malformed request")
        except httptools.HttpParserUpgrade:
            self.refusal = _Refused(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self.refusal = _Refused(400, f"malformed request: {exc}")

    @property
    def busy_receiving(self) -> bool:
        """True while a request (or the TLS handshake) has started and is not complete."""
        return self.started is not None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class HttpEngine:
    """The server: bind, start, then stop accepting, drain and close.

    Args:
        handler: answers each complete request (called in a worker thread).
        limits: what the server accepts.
        workers: threads answering requests.
        tls: the server's TLS context, or None for plain HTTP.
        refusal: builds the answer to a request the server refuses itself (status, message);
            plain text by default.
    """

    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        workers: int = 8,
        tls: ssl.SSLContext | None = None,
        refusal: Callable[[int, str], HttpAnswer] = lambda status, message: HttpAnswer(
            status, message.encode(), "text/plain; charset=utf-8"
        ),
    ) -> None:
        self.handler = handler
        self.refusal = refusal
        self.limits = limits
        self.workers = workers
        self.tls = tls
        self.port = 0
        self._listener: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self._waker_read, self._waker_write = socket.socketpair()
        self._returned: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        self._ready: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._registered: dict[int, _Connection] = {}
        self._open = 0
        self._busy = 0
        self._waiting = 0
        self._lock = threading.Lock()
        self._running = False
        self._accepting = False
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._date = ("", 0)

    # lifecycle

    def bind(self, host: str, port: int) -> int:
        """Bind and listen; return the bound port."""
        listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
        listener.setblocking(False)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        return self.port

    def start(self) -> None:
        """Start the selector thread and the workers."""
        assert self._listener is not None, "bind() first"
        self._running = self._accepting = True
        self._waker_read.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._waker_read, selectors.EVENT_READ, "wake")
        threads = [
            threading.Thread(target=self._select_loop, name=f"servicewire-http-{self.port}", daemon=True)
        ]
        threads += [
            threading.Thread(target=self._work, name=f"servicewire-http-{self.port}-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        self._threads = threads

    def stop_accepting(self) -> None:
        """Close the listening socket and the idle connections; answers in progress go on."""
        self._stopping = True
        self._accepting = False
        self._wake()

    def drain(self, timeout: float) -> bool:
        """Wait until every request received is answered; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                idle = self._busy == 0 and self._waiting == 0
            if idle:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def close(self) -> None:
        """Stop the threads and close every connection."""
        self._running = False
        self._wake()
        for _ in range(self.workers):
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        for connection in list(self._registered.values()):
            self._drop(connection)
        self._registered.clear()
        if self._listener is not None:
            self._listener.close()
        self._selector.close()
        self._waker_read.close()
        self._waker_write.close()

    @property
    def open_connections(self) -> int:
        """The connections open now."""
        return self._open

    # the selector thread

    def _wake(self) -> None:
        try:
            self._waker_write.send(b"\0")
        except OSError:
            pass

    def _select_loop(self) -> None:
        next_sweep = time.monotonic() + SWEEP
        while self._running:
            try:
                events = self._selector.select(timeout=SWEEP)
            except OSError:  # a descriptor closed under us; the next round sees the rest
                continue
            for key, _ in events:
                data = key.data
                if data == "listen":
                    self._accept()
                elif data == "wake":
                    self._on_wake()
                else:
                    self._on_readable(data)
            now = time.monotonic()
            if now >= next_sweep:
                self._sweep(now)
                next_sweep = now + SWEEP

    def _on_wake(self) -> None:
        try:
            while self._waker_read.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while True:
            try:
                connection = self._returned.get_nowait()
            except queue.Empty:
                break
            self._register(connection)
        if not self._accepting and self._listener is not None and self._listener.fileno() >= 0:
            self._selector.unregister(self._listener)
            self._listener.close()
        if self._stopping:
            for connection in list(self._registered.values()):
                if not connection.busy_receiving:
                    self._unregister(connection)
                    self._drop(connection)

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, say: keep serving those we have
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    logger.warning("cannot accept a connection: %s", exc)
                return
            if self._open >= self.limits.max_connections and not self._make_room():
                self._refuse(sock)
                continue
            self._adopt(sock, f"{address[0]}:{address[1]}")

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        """Answer 503 (the call did not run: the caller may go elsewhere) and close."""
        _last_word(sock, 503)
        sock.close()

    def _make_room(self) -> bool:
        idle = [c for c in self._registered.values() if not c.busy_receiving]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.last_active)
        self._unregister(oldest)
        self._drop(oldest)
        return True

    def _adopt(self, sock: socket.socket, peer: str) -> None:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        handshaking = self.tls is not None
        if handshaking:
            assert self.tls is not None
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:
            self._open += 1
        self._register(_Connection(self, sock, peer, handshaking))

    def _register(self, connection: _Connection) -> None:
        if self._stopping and not connection.busy_receiving and not connection.ready:
            self._drop(connection)
            return
        try:
            connection.sock.setblocking(False)
            self._selector.register(connection.sock, selectors.EVENT_READ, connection)
        except (OSError, ValueError):
            self._drop(connection)
            return
        self._registered[connection.sock.fileno()] = connection
        pending = isinstance(connection.sock, ssl.SSLSocket) and connection.sock.pending()
        if connection.ready or connection.refusal is not None or pending:
            self._on_readable(connection)

    def _unregister(self, connection: _Connection) -> None:
        self._registered.pop(connection.sock.fileno(), None)
        try:
            self._selector.unregister(connection.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _on_readable(self, connection: _Connection) -> None:
        if connection.handshaking:
            self._handshake(connection)
            return
        if not connection.ready and connection.refusal is None:
            try:
                data = connection.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError:
                self._unregister(connection)
                self._drop(connection)
                return
            if not data:
                self._unregister(connection)
                self._drop(connection)
                return
            connection.feed(data)
            sock = connection.sock
            # TLS may hold decrypted bytes the selector cannot see: take them now.
            while isinstance(sock, ssl.SSLSocket) and sock.pending() and connection.refusal is None:
                connection.feed(sock.recv(65536))
        if connection.ready or connection.refusal is not None:
            self._unregister(connection)
            with self._lock:
                self._waiting += 1
            self._ready.put(connection)

    def _handshake(self, connection: _Connection) -> None:
        sock = connection.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (ssl.SSLError, OSError) as exc:
            logger.info("TLS handshake with %s failed: %s", connection.peer, exc)
            self._unregister(connection)
            self._drop(connection)
            return
        connection.handshaking = False
        connection.started = None
        connection.last_active = time.monotonic()
        connection.peer_certificate = sock.getpeercert() or None
        if sock.pending():
            self._on_readable(connection)

    def _sweep(self, now: float) -> None:
        limits = self.limits
        for connection in list(self._registered.values()):
            if connection.busy_receiving:
                assert connection.started is not None
                expired = now - connection.started > limits.header_timeout
            else:
                expired = now - connection.last_active > limits.idle_timeout
            if expired:
                self._unregister(connection)
                if connection.busy_receiving and not connection.handshaking:
                    _last_word(connection.sock, 408)  # say why, so a slow client can tell
                self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        with self._lock:
            self._open -= 1

    # workers

    def _work(self) -> None:
        while True:
            connection = self._ready.get()
            if connection is None:
                return
            with self._lock:
                self._waiting -= 1
                self._busy += 1
            try:
                self._serve(connection)
            except Exception:  # one connection's failure must not stop the worker
                logger.exception("serving %s failed", connection.peer)
                self._drop(connection)
            finally:
                with self._lock:
                    self._busy -= 1

    def _serve(self, connection: _Connection) -> None:
        """Answer the connection's requests; hand it back to the selector when it goes quiet."""
        sock = connection.sock
        while True:
            if connection.refusal is not None:
                refusal = connection.refusal
                self._send(connection, self.refusal(refusal.status, refusal.message), False)
                self._drop(connection)
                return
            if connection.ready:
                request = connection.ready.popleft()
                answer = self.handler(request)
                keep = request.keep_alive and not self._stopping
                if not self._send(connection, answer, keep, head_only=request.method == "HEAD"):
                    self._drop(connection)
                    return
                if not keep:
                    self._drop(connection)
                    return
                continue
            if not self._ready.empty() or not self._running:
                break  # others wait for a worker: do not linger
            try:
                sock.settimeout(LINGER)
                data = sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                break
            except OSError:
                self._drop(connection)
                return
            if not data:
                self._drop(connection)
                return
            connection.feed(data)
            if not connection.ready and connection.refusal is None:
                break  # part of a request: the selector collects the rest, within the time limit
        self._returned.put(connection)
        self._wake()

    def _send(self, connection: _Connection, answer: HttpAnswer, keep: bool, head_only: bool = False) -> bool:
        head = [
            f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Unknown')}",
            f"Date: {self._http_date()}",
        ]
        if answer.content_type:
            head.append(f"Content-Type: {answer.content_type}")
        head.append(f"Content-Length: {len(answer.body)}")
        head.extend(f"{name}: {value}" for name, value in answer.headers)
        if not keep:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if not head_only:
            data += answer.body
        try:
            connection.sock.settimeout(self.limits.write_timeout)
            connection.sock.sendall(data)
        except OSError:
            return False
        connection.last_active = time.monotonic()
        return True

    def _http_date(self) -> str:
        text, second = self._date
        now = int(time.time())
        if now != second:
            text = email.utils.formatdate(now, usegmt=True)
            self._date = (text, now)
        return text


def _last_word(sock: socket.socket, status: int) -> None:
    """Send a bodiless answer without waiting, and stop sending; never raises."""
    try:
        sock.setblocking(False)
        sock.send(
            f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        sock.shutdown(socket.SHUT_WR)
    except (OSError, ValueError):
        pass
