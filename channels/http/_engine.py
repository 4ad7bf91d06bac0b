"""The embedded HTTP/1.1 server: one event loop does all socket I/O, worker threads compute answers.

The **loop thread** owns every socket: it accepts, runs TLS handshakes, reads without blocking
and feeds each connection's :class:`~._protocol.RequestReader`, and writes answers from a
per-connection buffer as fast as the client takes them. A complete request goes to a
**worker**, which computes the answer (the dispatcher, the implementation) and hands its bytes
back to the loop: a worker never touches a socket, so a client that reads slowly, or never,
costs a buffer and a file descriptor, never a worker (the design of waitress and uvicorn).
Every accept, handshake, read and write is guarded so that its failure closes that connection
only; the loop itself never dies of a client.

Limits that hold under hostile clients (see :class:`~._protocol.Limits`): a connection cap,
kept below the process's file-descriptor limit (raised to the hard limit at start), and a cap
per client address beside it (at either, the oldest idle connection makes room, or the new one
gets 503); a time limit for receiving a request once it started (slowloris) and for the TLS
handshake; an idle timeout; a write timeout on a client that stops taking its answer; the head
and body sizes counted as bytes arrive; a byte budget (:mod:`._budget`) for the request bodies
and unsent answers held, in all and per client address (503 for a body past it). Pipelined
requests are answered in order, one at a time per connection, before any refusal; a refusal
(400, 413, 431, 503) is followed by a lingering close, so that a client still sending reads it
instead of a reset.

A client that goes away while its request is answered (its connection closes, or it shuts its
side down) cancels the request's :class:`~container.plugin.Cancellation`: the dispatcher then
cancels an ``async def`` implementation still running for it.
"""

from __future__ import annotations

import collections
import errno
import logging
import queue
import resource
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from container.plugin import Cancellation, redact_credentials

from ._budget import BufferAccount, BufferBudget
from ._protocol import (
    CONTINUE,
    HttpAnswer,
    HttpDate,
    HttpRequest,
    Limits,
    Refusal,
    RequestReader,
    encode_answer,
)
from ._throttle import ThrottledLog

__all__ = ["HttpEngine", "connection_cap", "raise_descriptor_limit"]

logger = logging.getLogger("servicewire.http")

SWEEP = 0.25
"""Seconds between two checks of the time limits."""

RECV_SIZE = 65536
"""Bytes read from a connection at a time."""

HIGH_WATER = 65536
"""Unsent answer bytes of a connection above which its next request waits (a slow reader)."""

SEND_SIZE = 1 << 20
"""Bytes handed to one send call at most."""

ACCEPT_BACKOFF = (0.05, 1.0)
"""Seconds accepting pauses after running out of descriptors: the first pause, the longest."""

Handler = Callable[[HttpRequest], HttpAnswer]
Precheck = Callable[[HttpRequest], "HttpAnswer | None"]


def raise_descriptor_limit() -> int:
    """Raise the soft limit of open files to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # not allowed here: keep the soft limit, the cap is kept below it
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(wanted: int, descriptors: int) -> int:
    """The connection cap that leaves descriptors for the rest of the process (files, clients)."""
    return max(1, min(wanted, descriptors - max(64, descriptors // 8)))


_NONE, _REQUEST, _CHECK = 0, 1, 2


READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class _Poller:
    """Readiness of the loop's sockets: epoll where there is one (Linux), else :mod:`selectors`.

    epoll is called directly on the hot path: :mod:`selectors` adds a few microseconds per wait.
    """

    def __init__(self) -> None:
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._selector = None if self._epoll is not None else selectors.DefaultSelector()
        self._data: dict[int, Any] = {}

    def register(self, sock: socket.socket, mask: int, data: Any) -> None:
        if self._epoll is None:
            assert self._selector is not None
            self._selector.register(sock, mask, data)
            return
        fd = sock.fileno()
        self._epoll.register(fd, _epoll_mask(mask))
        self._data[fd] = data

    def modify(self, sock: socket.socket, mask: int, data: Any) -> None:
        if self._epoll is None:
            assert self._selector is not None
            self._selector.modify(sock, mask, data)
            return
        self._epoll.modify(sock.fileno(), _epoll_mask(mask))

    def unregister(self, sock: socket.socket) -> None:
        if self._epoll is None:
            assert self._selector is not None
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            return
        fd = sock.fileno()
        self._data.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass

    def wait(self, timeout: float) -> list[tuple[Any, int]]:
        """Return (data, READ and/or WRITE) of the ready sockets; errors count as both."""
        if self._epoll is None:
            assert self._selector is not None
            return [(key.data, mask) for key, mask in self._selector.select(timeout)]
        data = self._data
        ready = []
        for fd, events in self._epoll.poll(timeout):
            found = data.get(fd)
            if found is not None:
                mask = (READ if events & ~select.EPOLLOUT else 0) | (WRITE if events & ~select.EPOLLIN else 0)
                ready.append((found, mask))
        return ready

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        else:
            assert self._selector is not None
            self._selector.close()


def _epoll_mask(mask: int) -> int:
    return (select.EPOLLIN if mask & READ else 0) | (select.EPOLLOUT if mask & WRITE else 0)


class _Connection:
    """One client connection as the loop sees it."""

    __slots__ = (
        "account",
        "address",
        "answering",
        "closing",
        "continue_asked",
        "handshake_started",
        "handshaking",
        "in_flight",
        "last_active",
        "linger_until",
        "mask",
        "out",
        "out_pos",
        "out_since",
        "peer",
        "read_eof",
        "reader",
        "sock",
        "unsent",
    )

    def __init__(
        self, sock: socket.socket, peer: str, address: str, reader: RequestReader, tls: bool
    ) -> None:
        self.sock = sock
        self.peer = peer
        self.address = address
        self.reader = reader
        self.account: BufferAccount | None = reader.account
        self.handshaking = tls
        self.handshake_started = time.monotonic()
        self.in_flight = _NONE  # what is with a worker: nothing, a request, a 100-continue check
        self.answering: HttpRequest | None = None  # the request with a worker, while in_flight
        self.continue_asked = False
        self.out = b""  # answer bytes, sent up to out_pos
        self.out_pos = 0
        self.out_since = 0.0  # when the client last took some of them
        self.unsent = 0  # answers in ``out`` not yet wholly sent
        self.closing = False  # close once ``out`` is sent (then linger)
        self.read_eof = False
        self.linger_until = 0.0  # > 0: lingering close, reading and discarding until then
        self.last_active = time.monotonic()
        self.mask = 0

    @property
    def pending_out(self) -> int:
        """Answer bytes not yet sent."""
        return len(self.out) - self.out_pos

    @property
    def idle(self) -> bool:
        """Nothing in progress: no request being received, waiting or answered."""
        return not (
            self.in_flight
            or self.pending_out
            or self.reader.requests
            or self.reader.receiving
            or self.handshaking
            or self.closing
        )


class HttpEngine:
    """The server: bind, start, then stop accepting, drain and close.

    Args:
        handler: answers each complete request (called in a worker thread).
        limits: what the server accepts.
        workers: threads computing answers.
        tls: the server's TLS context, or None for plain HTTP.
        refusal: builds the answer to a request the server refuses itself (status, message);
            plain text by default.
        precheck: decides, before ``100 Continue`` is sent, whether a request whose client
            waits for it would be served: None to go on, or the answer to give at once
            (called in a worker thread with the request's head; None: always go on).
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
        precheck: Precheck = lambda request: None,
    ) -> None:
        self.handler = handler
        self.refusal = refusal
        self.precheck = precheck
        self.limits = limits
        self.workers = workers
        self.tls = tls
        self.port = 0
        self.max_connections = limits.max_connections
        self._listener: socket.socket | None = None
        self._poller = _Poller()
        self._loop_waiting = False  # the loop is (about to be) blocked waiting for events
        self._waker_read, self._waker_write = socket.socketpair()
        self._wake_pending = False
        self._jobs: queue.SimpleQueue[tuple[_Connection, HttpRequest, bool] | None] = queue.SimpleQueue()
        self._done: collections.deque[tuple[_Connection, HttpRequest, bool, HttpAnswer | None]] = (
            collections.deque()
        )
        self._connections: dict[int, _Connection] = {}
        self._per_address: collections.Counter[str] = collections.Counter()
        self._outstanding = 0  # requests received and not yet answered (loop thread only)
        self._running = False
        self._accepting = False
        self._stopping = False
        self._accept_paused_until = 0.0
        self._accept_backoff = ACCEPT_BACKOFF[0]
        self._accept_failures = 0
        self._accept_logged = 0.0
        self._budget = BufferBudget(limits.max_buffered, limits.max_buffered_per_peer)
        self._handshake_log = ThrottledLog(logger, logging.INFO, "failed TLS handshakes")
        self._buffer_log = ThrottledLog(logger, logging.WARNING, "requests refused for lack of buffer")
        self._threads: list[threading.Thread] = []
        self._date = HttpDate()

    # lifecycle

    def bind(self, host: str, port: int) -> int:
        """Bind and listen; return the bound port."""
        listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
        listener.setblocking(False)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        return self.port

    def start(self) -> None:
        """Raise the descriptor limit, start the loop thread and the workers."""
        assert self._listener is not None, "bind() first"
        descriptors = raise_descriptor_limit()
        self.max_connections = connection_cap(self.limits.max_connections, descriptors)
        if self.max_connections < self.limits.max_connections:
            logger.warning(
                "http.max_connections is %d but this process may open %d files: at most %d "
                "connections are kept (raise the limit with ulimit -n)",
                self.limits.max_connections,
                descriptors,
                self.max_connections,
            )
        self._running = self._accepting = True
        self._waker_read.setblocking(False)
        self._waker_write.setblocking(False)
        self._poller.register(self._listener, READ, "listen")
        self._poller.register(self._waker_read, READ, "wake")
        threads = [threading.Thread(target=self._loop, name=f"servicewire-http-{self.port}", daemon=True)]
        threads += [
            threading.Thread(target=self._work, name=f"servicewire-http-{self.port}-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        self._threads = threads

    def stop_accepting(self) -> None:
        """Close the listening socket and the idle connections; requests received go on."""
        self._stopping = True
        self._accepting = False
        self._wake()

    def drain(self, timeout: float) -> bool:
        """Wait until every request received is answered; False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while self._outstanding > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stop the threads and close every connection."""
        self._running = False
        self._wake()
        for _ in range(self.workers):
            self._jobs.put(None)
        loop, workers = self._threads[:1], self._threads[1:]
        for thread in loop:
            thread.join(timeout=5)  # it stops within a sweep; the sockets are closed below, after it
        # A worker still running a call that outlived the drain is not waited for (it is a
        # daemon thread, and its answer has nowhere to go): one second for all of them.
        until = time.monotonic() + 1.0
        for thread in workers:
            thread.join(timeout=max(0.0, until - time.monotonic()))
        for connection in list(self._connections.values()):
            self._close(connection)
        if self._listener is not None:
            self._listener.close()
        self._poller.close()
        self._waker_read.close()
        self._waker_write.close()

    # workers: compute answers, never touch a socket

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            connection, request, checking = job
            answer: HttpAnswer | None
            try:
                answer = self.precheck(request) if checking else self.handler(request)
            except Exception:  # one request's failure must not stop the worker
                # An absolute-form target may hold user:password@.
                target = redact_credentials(request.target[:200])
                logger.exception("answering %s %s from %s failed", request.method, target, request.peer)
                answer = self.refusal(500, "the server failed to answer; it logged why")
            self._done.append((connection, request, checking, answer))
            # The loop looks at the answers after every round: wake it only when it may be
            # waiting (it marks that before it checks for answers and waits: see _loop).
            if self._loop_waiting and not self._wake_pending:
                self._wake_pending = True
                self._wake()

    def _wake(self) -> None:
        try:
            self._waker_write.send(b"\0")
        except OSError:
            pass  # full: the loop is awake anyway

    # the loop: every socket operation happens here

    def _loop(self) -> None:
        next_sweep = time.monotonic() + SWEEP
        poller = self._poller
        done = self._done
        while self._running:
            self._loop_waiting = True
            # A worker that saw the loop awake did not wake it: look at its answers first.
            events = poller.wait(0 if done else SWEEP)
            self._loop_waiting = False
            self._wake_pending = False  # a worker that set it has sent a byte: it is read below
            for data, mask in events:
                try:
                    if data == "listen":
                        self._accept()
                    elif data == "wake":
                        self._on_wake()
                    elif mask & WRITE and data.handshaking:
                        self._handshake(data)
                    else:
                        if mask & WRITE:
                            self._flush(data)
                        if mask & READ and data.sock.fileno() >= 0:
                            self._on_readable(data)
                except Exception:  # never let one connection stop the loop
                    if isinstance(data, _Connection):
                        logger.exception("connection from %s failed", data.peer)
                        self._close(data)
                    else:
                        logger.exception("the HTTP server's loop failed; it goes on")
            try:
                if done:
                    self._take_answers()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP
            except Exception:
                logger.exception("the HTTP server's loop failed; it goes on")

    def _on_wake(self) -> None:
        try:
            while self._waker_read.recv(4096):
                pass
        except OSError:
            pass
        if not self._accepting and self._listener is not None and self._listener.fileno() >= 0:
            self._poller.unregister(self._listener)
            self._listener.close()
        if self._stopping:
            for connection in list(self._connections.values()):
                if connection.idle:
                    self._close(connection)

    def _take_answers(self) -> None:
        done = self._done
        while done:
            connection, request, checking, answer = done.popleft()
            connection.in_flight = _NONE
            connection.answering = None
            if request.charged and connection.account is not None:
                connection.account.give_back(request.charged)  # its answer is counted instead
                request.charged = 0
            if connection.sock.fileno() < 0:
                continue  # closed meanwhile (the client went away); _close counted it
            try:
                if checking:
                    self._continue_or_refuse(connection, answer)
                else:
                    assert answer is not None
                    self._answered(connection, request, answer)
            except Exception:
                logger.exception("connection from %s failed", connection.peer)
                self._close(connection)

    def _answered(self, connection: _Connection, request: HttpRequest, answer: HttpAnswer) -> None:
        keep = request.keep_alive and not self._stopping and not connection.read_eof
        data = encode_answer(answer, self._date(), keep, request.version, request.method == "HEAD")
        if not keep:
            connection.closing = True
        connection.unsent += 1
        self._send(connection, data)

    def _continue_or_refuse(self, connection: _Connection, answer: HttpAnswer | None) -> None:
        reader = connection.reader
        if answer is None:
            if reader.awaiting_continue is not None:  # the body has not all arrived yet
                reader.awaiting_continue = None
                self._send(connection, CONTINUE)
            else:
                self._advance(connection)
            return
        # Refused before the body was read: say so, then read and drop what still comes.
        head = reader.awaiting_continue or (reader.requests[0] if reader.requests else None)
        self._outstanding -= len(reader.requests)
        reader.requests.clear()
        reader.refuse(Refusal(answer.status, "refused before 100 Continue"))
        connection.closing = True
        version = head.version if head is not None else "1.1"
        self._send(connection, encode_answer(answer, self._date(), False, version))

    # accepting

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(64):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._pause_accepting(exc)
                return
            try:
                self._adopt(sock, address)
            except Exception:
                logger.exception("accepting a connection from %s failed", address)
                _close_quietly(sock)

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of descriptors: stop accepting a while (with growing pauses), say so now and then."""
        assert self._listener is not None
        now = time.monotonic()
        self._accept_failures += 1
        if now - self._accept_logged >= 10.0:
            logger.warning(
                "cannot accept connections (%s): %d failures; pausing accepting %.2f s",
                exc.strerror or exc,
                self._accept_failures,
                self._accept_backoff,
            )
            self._accept_logged = now
            self._accept_failures = 0
        self._poller.unregister(self._listener)
        self._accept_paused_until = now + self._accept_backoff
        self._accept_backoff = min(self._accept_backoff * 2, ACCEPT_BACKOFF[1])

    def _resume_accepting(self, now: float) -> None:
        if not self._accept_paused_until or now < self._accept_paused_until:
            return
        self._accept_paused_until = 0.0
        if self._accepting and self._listener is not None and self._listener.fileno() >= 0:
            self._poller.register(self._listener, READ, "listen")

    def _adopt(self, sock: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        peer = f"{host}:{address[1]}" if isinstance(address, tuple) else host
        limits = self.limits
        if self._per_address[host] >= limits.max_connections_per_peer and not self._make_room(host):
            _refuse(sock)
            return
        if len(self._connections) >= self.max_connections and not self._make_room(None):
            _refuse(sock)
            return
        self._accept_backoff = ACCEPT_BACKOFF[0]
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls is not None:
            try:
                # A client that reset already: wrap_socket would fail, and on some of its paths
                # leave its half-made SSLSocket (which owns the descriptor) to the collector.
                sock.getpeername()
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ValueError) as exc:
                self._handshake_log("TLS connection from %s ended before the handshake: %s", peer, exc)
                _close_quietly(sock)
                return
        reader = RequestReader(limits, peer, account=self._budget.account(host))
        connection = _Connection(sock, peer, host, reader, self.tls is not None)
        self._connections[sock.fileno()] = connection
        self._per_address[host] += 1
        if connection.handshaking:
            self._handshake(connection)
        else:
            # The request is often there already: read it now rather than after another wait.
            self._on_readable(connection)

    def _make_room(self, address: str | None) -> bool:
        """Close the oldest idle connection (of ``address``, when given); False when none is idle."""
        idle = [c for c in self._connections.values() if c.idle and (address is None or c.address == address)]
        if not idle:
            return False
        self._close(min(idle, key=lambda c: c.last_active))
        return True

    # reading

    def _handshake(self, connection: _Connection) -> None:
        sock = connection.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(connection, READ)
            return
        except ssl.SSLWantWriteError:
            self._watch(connection, WRITE)
            return
        except (OSError, ValueError) as exc:
            self._handshake_log("TLS handshake with %s failed: %s", connection.peer, exc)
            self._close(connection)
            return
        connection.handshaking = False
        connection.last_active = time.monotonic()
        certificate = sock.getpeercert() or None
        connection.reader.peer_certificate = certificate
        self._on_readable(connection)

    def _on_readable(self, connection: _Connection) -> None:
        if connection.handshaking:
            self._handshake(connection)
            return
        sock = connection.sock
        if connection.linger_until:
            self._linger_read(connection)
            return
        reader = connection.reader
        while True:
            try:
                data = sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                break
            except ssl.SSLWantWriteError:
                break
            except (OSError, ValueError):
                self._close(connection)
                return
            if not data:
                connection.read_eof = True
                _caller_gone(connection)  # HTTP has no half-close: the client stopped waiting
                break
            connection.last_active = time.monotonic()
            before = len(reader.requests)
            reader.feed(data)
            self._outstanding += len(reader.requests) - before
            # TLS may hold decrypted bytes the selector cannot see: take them now.
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()) or reader.refusal is not None:
                break
        self._advance(connection)

    def _linger_read(self, connection: _Connection) -> None:
        try:
            while connection.sock.recv(RECV_SIZE):
                pass
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (OSError, ValueError):
            pass
        self._close(connection)  # the client closed (or reset): done

    # deciding what a connection does next

    def _advance(self, connection: _Connection) -> None:
        """Hand the next request to a worker, send a refusal, or close; then watch what is due."""
        if connection.sock.fileno() < 0:
            return
        reader = connection.reader
        if not connection.in_flight and connection.pending_out < HIGH_WATER and not connection.closing:
            if reader.requests:
                request = reader.requests.popleft()
                request.cancellation = Cancellation()
                connection.in_flight = _REQUEST
                connection.answering = request
                self._jobs.put((connection, request, False))
            elif reader.refusal is not None:
                refusal = reader.refusal
                if refusal.status == 503:
                    self._buffer_log("refused a request from %s: %s", connection.peer, refusal.message)
                connection.closing = True
                answer = self.refusal(refusal.status, refusal.message)
                self._send(connection, encode_answer(answer, self._date(), False, "1.1"))
                return
            elif reader.awaiting_continue is not None and not connection.continue_asked:
                connection.continue_asked = True
                connection.in_flight = _CHECK
                self._jobs.put((connection, reader.awaiting_continue, True))
        if reader.awaiting_continue is None:
            connection.continue_asked = False
        if not connection.in_flight and not connection.pending_out:
            if connection.closing:
                self._begin_linger(connection)
                return
            if connection.read_eof and not reader.requests:
                self._close(connection)
                return
        self._watch(connection)

    def _watch(self, connection: _Connection, mask: int | None = None) -> None:
        """Register the events the connection waits for now."""
        if mask is None:
            mask = 0
            reader = connection.reader
            if connection.linger_until or (
                not connection.read_eof
                and not connection.closing
                and reader.refusal is None
                and not reader.requests
                and connection.pending_out < HIGH_WATER
            ):
                mask |= READ
            if connection.pending_out:
                mask |= WRITE
        if mask == connection.mask:
            return
        sock = connection.sock
        if connection.mask == 0:
            self._poller.register(sock, mask, connection)
        elif mask == 0:
            self._poller.unregister(sock)
        else:
            self._poller.modify(sock, mask, connection)
        connection.mask = mask

    # writing

    def _send(self, connection: _Connection, data: bytes) -> None:
        """Queue answer bytes, send what the client takes now, and go on with the connection."""
        if connection.pending_out:
            connection.out = connection.out[connection.out_pos :] + data
        else:
            connection.out = data
            connection.out_since = time.monotonic()
        connection.out_pos = 0
        self._flush(connection)

    def _flush(self, connection: _Connection) -> None:
        sock = connection.sock
        out = connection.out
        size = len(out)
        position = connection.out_pos
        try:
            while position < size:
                if position == 0 and size <= SEND_SIZE:
                    sent = sock.send(out)
                else:
                    sent = sock.send(memoryview(out)[position : position + SEND_SIZE])
                position += sent
                connection.out_since = time.monotonic()
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
        except (OSError, ValueError):
            connection.out_pos = size
            self._close(connection)
            return
        if position >= size:
            connection.out = b""
            connection.out_pos = 0
            connection.last_active = time.monotonic()
            self._outstanding -= connection.unsent
            connection.unsent = 0
        else:
            connection.out_pos = position
        if connection.account is not None:
            connection.account.set_unsent(size - position)
        self._advance(connection)

    # closing

    def _begin_linger(self, connection: _Connection) -> None:
        """Stop sending and read what the client still sends, a while, so it can read our answer.

        Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
        answer before the client read it (a client still sending a refused upload).
        """
        if connection.reader.refusal is None:
            self._close(connection)  # a normal end (Connection: close): nothing is coming
            return
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            self._close(connection)
            return
        connection.linger_until = time.monotonic() + self.limits.header_timeout
        self._watch(connection)
        self._linger_read(connection)

    def _close(self, connection: _Connection) -> None:
        sock = connection.sock
        fileno = sock.fileno()
        if fileno < 0:
            return
        if connection.mask:
            self._poller.unregister(sock)
            connection.mask = 0
        _caller_gone(connection)
        if connection.account is not None:
            connection.account.close()
        if self._connections.pop(fileno, None) is not None:
            self._per_address[connection.address] -= 1
            if self._per_address[connection.address] <= 0:
                del self._per_address[connection.address]
            # Requests received and now never answered: the server no longer owes them.
            self._outstanding -= (
                len(connection.reader.requests) + (connection.in_flight == _REQUEST) + connection.unsent
            )
            connection.reader.requests.clear()
            connection.unsent = 0
        _close_quietly(sock)

    def _sweep(self, now: float) -> None:
        self._resume_accepting(now)
        self._handshake_log.flush()
        self._buffer_log.flush()
        limits = self.limits
        for connection in list(self._connections.values()):
            if connection.linger_until:
                if now > connection.linger_until:
                    self._close(connection)
            elif connection.handshaking:
                if now - connection.handshake_started > limits.header_timeout:
                    self._handshake_log("TLS handshake with %s timed out", connection.peer)
                    self._close(connection)
            elif connection.pending_out:
                if now - connection.out_since > limits.write_timeout:
                    logger.info(
                        "%s did not read its answer for %.0f s", connection.peer, limits.write_timeout
                    )
                    self._close(connection)
            elif connection.in_flight or connection.reader.requests:
                pass  # the server is busy with this connection: its time is not the client's
            elif connection.reader.receiving:
                started = connection.reader.started
                assert started is not None
                if now - started > limits.header_timeout:
                    self._timed_out(connection)
            elif now - connection.last_active > limits.idle_timeout:
                self._close(connection)

    def _timed_out(self, connection: _Connection) -> None:
        """A request not complete in time: say 408 (so a slow client can tell), then close."""
        answer = self.refusal(408, f"the request was not complete within {self.limits.header_timeout:g} s")
        try:
            connection.sock.send(encode_answer(answer, self._date(), False, "1.1"))
        except (OSError, ValueError):
            pass
        self._close(connection)


def _caller_gone(connection: _Connection) -> None:
    """Cancel the request a worker is answering for a client that went away (if any)."""
    request = connection.answering
    if request is not None and request.cancellation is not None:
        request.cancellation.cancel()


def _refuse(sock: socket.socket) -> None:
    """Answer 503 (the call did not run: the caller may go elsewhere) and close.

    What the client already sent is read first: closing a socket with unread bytes sends a
    reset, which can destroy the 503 before the client reads it.
    """
    try:
        sock.setblocking(False)
        sock.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(RECV_SIZE):
            pass
    except (OSError, ValueError):
        pass
    _close_quietly(sock)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
