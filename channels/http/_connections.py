"""Keep-alive HTTP/1.1 connections on ``http.client``, pooled and bounded by the call's deadline.

``http.client`` applies a socket timeout to each ``recv``, so a server that drips one byte a
second never trips a two-second timeout. Here every connection's socket is wrapped so that
each send and each read is given only the time left before the call's deadline: the whole
exchange ends by the deadline, however the server paces its bytes.

One :class:`Pool` per transport keeps idle connections per base URL in an
:class:`~container.plugin.IdlePool`, at most ``max_idle`` of them per URL; a call that finds
none idle opens a new one, and a connection returned to a full pool is closed. So any number
of calling threads share a bounded number of sockets.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from container import ConfigurationException
from container.plugin import IdlePool, socket_is_stale


class ConnectError(Exception):
    """No connection could be made (wraps the OSError); nothing was sent."""


class ConnectTimeout(Exception):
    """The connection attempt ran out of time; nothing was sent."""


class SendError(Exception):
    """Writing the request failed on a reused connection the server had closed; nothing was read."""


class ExchangeError(Exception):
    """The connection broke after the request was (perhaps partly) sent."""


class DeadlineExceeded(Exception):
    """The call's deadline passed while sending or waiting for the answer."""


REARM = 0.01
"""Seconds: a socket's timeout is set again to the time left once this much passed since the last
time. Each read then blocks at most this much past the deadline, and a quick exchange sets the
timeout once instead of before every read (each setting is a system call)."""


class _Deadline:
    """The deadline of the exchange a connection is carrying now, and the socket it arms."""

    __slots__ = ("armed", "at", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.at: float | None = None
        self.armed = 0.0

    def start(self, at: float | None) -> None:
        """Begin an exchange that must be over at ``at`` (None: no deadline)."""
        self.at = at
        self.armed = 0.0
        self.arm()

    def arm(self) -> None:
        """Give the socket the time left, if it was not given recently; TimeoutError once over."""
        at = self.at
        if at is None:
            if self.armed == 0.0:
                self.sock.settimeout(None)
                self.armed = -1.0
            return
        now = time.monotonic()
        if now - self.armed < REARM:
            return
        if now >= at:
            raise TimeoutError("deadline")
        self.sock.settimeout(at - now)
        self.armed = now


class _Reader(io.RawIOBase):
    """The read side of a socket, never blocking (much) past the exchange's deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._deadline.arm()
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """A socket whose sends and reads never outlast the current exchange's deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline = _Deadline(sock)

    def sendall(self, data: Any) -> None:
        self.deadline.arm()
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self._sock, self.deadline))

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _OneWrite:
    """Sends the request line, the headers and a body given as bytes in one write.

    ``http.client`` writes the headers and the body separately: two system calls and, with
    TCP_NODELAY, two packets the server must read.
    """

    _buffer: list[bytes]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            head = b"\r\n".join(self._buffer)
            del self._buffer[:]
            self.send(head + message_body)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _Connection(_OneWrite, http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class _TlsConnection(_OneWrite, http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = _DeadlineSocket(self.sock)  # type: ignore[assignment]


class Pool:
    """Idle keep-alive connections per base URL, shared by threads, bounded per URL.

    Args:
        max_idle: the most idle connections kept per base URL.
        tls: the TLS context for ``https`` URLs (None: a verifying default).
    """

    def __init__(self, max_idle: int = 10, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._idle: IdlePool[http.client.HTTPConnection] = IdlePool(
            max_idle, http.client.HTTPConnection.close, lambda c: c.sock is None or socket_is_stale(c.sock)
        )
        self._targets: dict[str, tuple[str, str, int | None, str]] = {}

    def post(
        self,
        base: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        connect_timeout: float,
        deadline: float | None,
        max_response: int,
    ) -> tuple[int, bytes, str]:
        """POST ``body`` to ``base + path`` and return (status, body, content type).

        Raises:
            ConnectError, ConnectTimeout: no connection could be made; nothing was sent.
            DeadlineExceeded: the deadline passed after the request was (perhaps) sent.
            ExchangeError: the connection broke after the request was (perhaps) sent, or the
                answer was not HTTP.
            ResponseTooLarge: the answer declared or sent more than ``max_response`` bytes.
        """
        scheme, host, port, prefix = self._target(base)
        connection, reused = self._checkout(base, scheme, host, port, connect_timeout)
        target = prefix + path
        try:
            try:
                self._send(connection, target, body, headers, deadline)
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, TimeoutError) and _expired(deadline):
                    raise DeadlineExceeded() from exc
                if not reused:
                    raise ExchangeError(_reason(exc)) from exc
                # The server closed an idle connection as we wrote to it, so it read nothing:
                # send once more on a new connection.
                connection.close()
                connection, reused = self._open(scheme, host, port, connect_timeout), False
                self._send(connection, target, body, headers, deadline)
            status, content, content_type, reusable = self._receive(connection, max_response)
        except (ConnectError, ConnectTimeout, ResponseTooLarge):
            connection.close()
            raise
        except TimeoutError as exc:
            connection.close()
            if _expired(deadline):
                raise DeadlineExceeded() from exc
            raise ExchangeError(_reason(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ExchangeError(_reason(exc)) from exc
        if reusable:
            self._idle.put(base, connection)
        else:
            connection.close()
        return status, content, content_type

    @staticmethod
    def _send(
        connection: http.client.HTTPConnection,
        target: str,
        body: bytes,
        headers: dict[str, str],
        deadline: float | None,
    ) -> None:
        connection.sock.deadline.start(deadline)  # type: ignore[union-attr]
        connection.request("POST", target, body, headers)

    @staticmethod
    def _receive(connection: http.client.HTTPConnection, max_response: int) -> tuple[int, bytes, str, bool]:
        response = connection.getresponse()
        length = response.length
        if length is not None and length > max_response:
            raise ResponseTooLarge(f"the answer declares {length} bytes; the limit is {max_response}")
        content = response.read(max_response + 1) if length is None else response.read()
        if len(content) > max_response:
            raise ResponseTooLarge(f"the answer is larger than the limit of {max_response} bytes")
        reusable = not response.will_close and response.isclosed()
        return response.status, content, response.getheader("Content-Type", ""), reusable

    def _target(self, base: str) -> tuple[str, str, int | None, str]:
        target = self._targets.get(base)
        if target is None:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationException(f"{base!r} is not an http:// or https:// URL")
            target = (parts.scheme, parts.hostname, parts.port, parts.path.rstrip("/"))
            self._targets[base] = target
        return target

    def _checkout(
        self, base: str, scheme: str, host: str, port: int | None, connect_timeout: float
    ) -> tuple[http.client.HTTPConnection, bool]:
        connection = self._idle.take(base)
        if connection is not None:
            return connection, True
        return self._open(scheme, host, port, connect_timeout), False

    def _open(
        self, scheme: str, host: str, port: int | None, connect_timeout: float
    ) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = _TlsConnection(host, port, timeout=connect_timeout, context=self._tls_context())
        else:
            connection = _Connection(host, port, timeout=connect_timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise ConnectTimeout(str(exc)) from exc
        except ssl.SSLError as exc:
            connection.close()
            raise ConnectError(f"TLS handshake failed: {exc}") from exc
        except OSError as exc:
            connection.close()
            raise ConnectError(_reason(exc)) from exc
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def idle_count(self) -> int:
        """Return the number of idle connections held now (all URLs)."""
        return self._idle.idle_count()

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        self._idle.close()


class ResponseTooLarge(Exception):
    """The answer is larger than the transport accepts."""


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
