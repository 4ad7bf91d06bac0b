"""Keep-alive HTTP/1.1 connections of the HTTP transport: pooled, bounded by the call's deadline.

A request is written in one buffer (request line, header fields, body) and the answer parsed
with httptools' response parser, the C parser the embedded server uses for requests: about a
third of the client CPU of ``http.client``, whose header parsing goes through the email package
(bench/README.md, "The HTTP client"). Every send and every read is given only the time left
before the call's deadline, so the whole exchange ends by the deadline however the server paces
its bytes; the socket's timeout is set again at most every 10 ms, since each setting is a system
call. Connections are kept in an :class:`~container.plugin.IdlePool`: at most ``max_idle`` idle
per base URL, shared by every calling thread.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httptools

from container import ConfigurationException
from container.plugin import IdlePool, socket_is_stale

from ._headers import ANSWER_NOT_METADATA

EARLY_ANSWER_WAIT = 1.0
"""Seconds to wait for the answer a server sent before it stopped reading the request."""

REARM = 0.01
"""Seconds: a socket's timeout is set again to the time left once this much passed since the
last time, so each read blocks at most this much past the deadline."""


class ConnectError(Exception):
    """No connection could be made (wraps the OSError); nothing was sent."""


class ConnectTimeout(Exception):
    """The connection attempt ran out of time; nothing was sent."""


class ExchangeError(Exception):
    """The connection broke after the request was (perhaps partly) sent, or the answer was not HTTP."""


class DeadlineExceeded(Exception):
    """The call's deadline passed while sending or waiting for the answer."""


class ResponseTooLarge(Exception):
    """The answer is larger than the transport accepts."""


def too_large_declared(declared: int, limit: int) -> str:
    """Say that an answer declares more bytes than the limit (both client transports say it so)."""
    return f"it declares {declared} bytes, more than http.max_response_size ({limit})"


def too_large_read(limit: int) -> str:
    """Say that an answer passed the limit as it was read."""
    return f"it passed http.max_response_size ({limit} bytes)"


def tls_failure(exc: BaseException) -> str:
    """Say why a TLS handshake failed, in servicewire's words; the ssl module's reason follows.

    Looks through the exception's causes (requests and urllib3 wrap the ssl error a few
    levels deep) for what the ssl module raised, and tells its type apart: a server
    certificate the client does not trust, or any other refusal.
    """
    untrusted = _find_in_chain(exc, ssl.SSLCertVerificationError)
    if isinstance(untrusted, ssl.SSLCertVerificationError):
        detail = untrusted.verify_message or untrusted.reason or ""
        return f"the TLS handshake failed: the server's certificate is not trusted ({detail})"
    failed = _find_in_chain(exc, ssl.SSLError)
    if isinstance(failed, ssl.SSLError) and failed.reason:
        return f"the TLS handshake failed ({failed.reason})"
    return f"the TLS handshake failed ({failed or exc})"


def _find_in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        if isinstance(item, kind):
            return item
        seen.add(id(item))
        stack.extend((item.__cause__, item.__context__, getattr(item, "reason", None), *item.args))
    return None


class _Unwritten(Exception):
    """Writing the request failed: the server cannot have read a whole request."""


_NOT_METADATA = frozenset(name.encode() for name in ANSWER_NOT_METADATA)
"""Answer header names that are HTTP's, not the answer's metadata (lowercase bytes)."""

Answer = tuple[int, bytes, str, dict[str, str]]
"""An answer as the pool returns it: (status, body, content type, metadata)."""


Target = tuple[str, str, int, str, str]
"""Where a base URL points: (scheme, host, port, path prefix, Host header value)."""


def target_of(base: str) -> Target:
    """Return where a base URL points (see :data:`Target`).

    Raises:
        ConfigurationException: ``base`` is not an http:// or https:// URL.
    """
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationException(f"{base!r} is not an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default = port == (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return (parts.scheme, host, port, parts.path.rstrip("/"), shown if default else f"{shown}:{port}")


class AnswerReader:
    """httptools callbacks collecting one answer (status, body, content type, metadata).

    Shared by the pool of sockets and the asyncio pool, so that both read answers alike.
    """

    __slots__ = (
        "body",
        "complete",
        "content_type",
        "keep_alive",
        "limit",
        "metadata",
        "parser",
        "size",
        "status",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.body: list[bytes] = []
        self.size = 0
        self.content_type = ""
        self.metadata: dict[str, str] = {}
        self.complete = False
        self.keep_alive = False
        self.status = 0
        self.parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-type":
            self.content_type = value.decode("latin-1")
        elif lower == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                return  # the parser refuses a malformed length itself
            if declared > self.limit:
                raise ResponseTooLarge(too_large_declared(declared, self.limit))
        elif lower not in _NOT_METADATA:
            key, text = lower.decode("latin-1"), value.decode("latin-1")
            found = self.metadata.get(key)
            # A field given twice is one value, joined as urllib3 (the requests transport) joins it.
            self.metadata[key] = text if found is None else f"{found}, {text}"

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            raise ResponseTooLarge(too_large_read(self.limit))
        self.body.append(body)

    def on_message_complete(self) -> None:
        # The parser forgets the connection's keep-alive state once the message is complete.
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True


class Connection:
    """One keep-alive connection to a server."""

    __slots__ = ("_armed", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._armed = 0.0

    def _arm(self, deadline: float | None) -> None:
        if deadline is None:
            if self._armed >= 0.0:
                self.sock.settimeout(None)
                self._armed = -1.0
            return
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError("deadline")
        if now - self._armed >= REARM:
            self.sock.settimeout(deadline - now)
            self._armed = now

    def exchange(
        self, data: bytes, deadline: float | None, max_response: int
    ) -> tuple[int, bytes, str, dict[str, str], bool]:
        """Send a request and read its answer: (status, body, content type, metadata, reusable).

        Raises:
            _Unwritten: the request could not be written.
            TimeoutError: the deadline passed.
            ResponseTooLarge: the answer is over ``max_response``.
            ExchangeError: the connection broke, or the answer is not HTTP.
        """
        self._armed = 0.0
        try:
            self._arm(deadline)
            self.sock.sendall(data)
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                raise
            # A server may answer before it read the whole request (413 to a large upload)
            # and close: that answer is the outcome, not a connection that failed.
            early = self._early_answer(deadline, max_response)
            if early is not None:
                return early
            raise _Unwritten(str(exc)) from exc
        return self._read_answer(deadline, max_response)

    def _early_answer(
        self, deadline: float | None, max_response: int
    ) -> tuple[int, bytes, str, dict[str, str], bool] | None:
        """The whole answer a server sent before the request could be written, or None."""
        limit = time.monotonic() + EARLY_ANSWER_WAIT
        self._armed = 0.0
        try:
            status, body, content_type, metadata, _ = self._read_answer(
                limit if deadline is None else min(deadline, limit), max_response
            )
        except (OSError, ExchangeError, ResponseTooLarge):
            return None
        return status, body, content_type, metadata, False

    def _read_answer(
        self, deadline: float | None, max_response: int
    ) -> tuple[int, bytes, str, dict[str, str], bool]:
        answer = AnswerReader(max_response)
        parser = answer.parser = httptools.HttpResponseParser(answer)
        while not answer.complete:
            self._arm(deadline)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ExchangeError("the server closed the connection before answering")
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserCallbackError as exc:
                cause = exc.__context__
                if isinstance(cause, ResponseTooLarge):
                    raise cause from None
                raise ExchangeError(f"malformed answer: {exc}") from exc
            except httptools.HttpParserError as exc:
                raise ExchangeError(f"malformed answer: {exc}") from exc
        body = answer.body[0] if len(answer.body) == 1 else b"".join(answer.body)
        return answer.status, body, answer.content_type, answer.metadata, answer.keep_alive

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass


class Pool:
    """Keep-alive connections per base URL, shared by threads, bounded per URL.

    Args:
        max_idle: the most idle connections kept per base URL.
        tls: the TLS context for ``https`` URLs, or a function returning it, called at the first
            ``https`` connection (None: a verifying default).
    """

    def __init__(
        self, max_idle: int = 10, tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None
    ) -> None:
        self._tls = tls
        self._idle: IdlePool[Connection] = IdlePool(
            max_idle, Connection.close, lambda c: socket_is_stale(c.sock)
        )
        self._targets: dict[str, Target] = {}

    def post(
        self,
        base: str,
        path: str,
        body: bytes,
        headers: str,
        connect_timeout: float,
        deadline: float | None,
        max_response: int,
    ) -> Answer:
        """POST ``body`` to ``base + path``; return (status, body, content type, metadata).

        The metadata are the answer's header fields that are not HTTP's own (lowercase names).

        Args:
            base: the instance's base URL.
            path: the path after it, ``/invoke/...``.
            body: the encoded call.
            headers: the header field lines to send, each ending in CRLF (checked by the
                caller: no line breaks inside).
            connect_timeout: seconds a new connection may take.
            deadline: when the exchange must be over (monotonic), or None.
            max_response: the largest answer accepted, bytes.

        Raises:
            ConnectError, ConnectTimeout: no connection could be made; nothing was sent.
            DeadlineExceeded: the deadline passed after the request was (perhaps) sent.
            ExchangeError: the connection broke after the request was (perhaps) sent, or the
                answer was not HTTP.
            ResponseTooLarge: the answer declared or sent more than ``max_response``.
            ConfigurationException: ``base`` is not an http:// or https:// URL.
        """
        scheme, host, port, prefix, host_header = self._target(base)
        head = f"POST {prefix}{path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: {len(body)}\r\n"
        data = (head + headers + "\r\n").encode("latin-1") + body
        connection = self._idle.take(base)
        if connection is not None:
            try:
                return self._exchange(base, connection, data, deadline, max_response)
            except _Unwritten:
                pass  # the server had closed this idle connection, so it read nothing: send anew
        connection = self._open(scheme, host, port, connect_timeout)
        try:
            return self._exchange(base, connection, data, deadline, max_response)
        except _Unwritten as exc:
            if isinstance(exc.__cause__, ssl.SSLError):
                # TLS 1.3: a server refusing our certificate may close before we write.
                raise ConnectError(
                    "the TLS handshake failed: the server ended the connection before the request "
                    f"(did it refuse our certificate?) ({exc.__cause__})"
                ) from exc
            raise ConnectError(f"cannot send: {exc}") from exc

    def _exchange(
        self, base: str, connection: Connection, data: bytes, deadline: float | None, max_response: int
    ) -> Answer:
        try:
            status, body, content_type, metadata, reusable = connection.exchange(data, deadline, max_response)
        except _Unwritten:
            connection.close()
            raise
        except TimeoutError as exc:
            connection.close()
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlineExceeded() from exc
            raise ExchangeError(str(exc) or "timed out") from exc
        except ResponseTooLarge:
            connection.close()
            raise
        except ssl.SSLError as exc:
            connection.close()
            if "ALERT" in str(exc.reason).upper():
                # With TLS 1.3 the server checks the client's certificate after the client's
                # handshake returned; its refusal arrives as an alert on the first read, and
                # the request never reached the application.
                raise ConnectError(
                    f"the TLS handshake failed: the server answered with an alert ({exc.reason})"
                ) from exc
            raise ExchangeError(str(exc)) from exc
        except OSError as exc:
            connection.close()
            raise ExchangeError(str(exc) or type(exc).__name__) from exc
        except ExchangeError:
            connection.close()
            raise
        if reusable:
            self._idle.put(base, connection)
        else:
            connection.close()
        return status, body, content_type, metadata

    def _target(self, base: str) -> Target:
        target = self._targets.get(base)
        if target is None:
            target = self._targets[base] = target_of(base)
        return target

    def _open(self, scheme: str, host: str, port: int, connect_timeout: float) -> Connection:
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except TimeoutError as exc:
            raise ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            try:
                sock = self._tls_context().wrap_socket(sock, server_hostname=host)
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeout(f"TLS handshake: {exc}") from exc
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise ConnectError(tls_failure(exc)) from exc
        return Connection(sock)

    def _tls_context(self) -> ssl.SSLContext:
        tls = self._tls
        if isinstance(tls, ssl.SSLContext):
            return tls
        self._tls = tls = ssl.create_default_context() if tls is None else tls()
        return tls

    def idle_count(self) -> int:
        """Return the number of idle connections held now (all URLs)."""
        return self._idle.idle_count()

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        self._idle.close()
