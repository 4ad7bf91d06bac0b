"""The client side: idle connections pooled per URL, every step bounded by the deadline."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import msgspec

from container import CallInterruptedException, ServiceTimeoutException, ServiceUnavailableException
from container.plugin import MSGPACK_CODEC, IdlePool, Request, Response, Settings, Transport, socket_is_stale

from ._frames import answers, frame, read_frame


class _Unwritten(Exception):
    """The request could not be written, so the server cannot have read a whole frame."""


class TcpTransport(Transport):
    """Sends frames over persistent TCP connections shared by the calling threads."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._idle: IdlePool[socket.socket] = IdlePool(8, socket.socket.close, socket_is_stale)

    def send(self, url: str, request: Request) -> Response:
        """Send one request frame and return the answer frame."""
        data = frame(request.path, request.wire_metadata(), request.body)
        sock = self._idle.take(url)
        if sock is not None:
            try:
                return self._exchange(url, sock, data, request)
            except _Unwritten:
                pass  # the server had closed this idle connection: send on a new one
        try:
            return self._exchange(url, self._connect(url, request), data, request)
        except _Unwritten as exc:
            raise ServiceUnavailableException(f"cannot send to {url}: {exc.__cause__}", url) from exc

    def _exchange(self, url: str, sock: socket.socket, data: bytes, request: Request) -> Response:
        try:
            try:
                sock.settimeout(request.time_left(url))
                sock.sendall(data)
            except OSError as exc:
                raise _Unwritten() from exc
            answer = answers.decode(read_frame(sock, lambda: request.time_left(url)))
        except TimeoutError as exc:
            sock.close()
            raise ServiceTimeoutException(url, "deadline", request.timeout) from exc
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            sock.close()
            raise CallInterruptedException(f"connection to {url} broke during the call: {exc}", url) from exc
        except BaseException:
            sock.close()
            raise
        self._idle.put(url, sock)
        return Response(answer.status, answer.body, MSGPACK_CODEC.content_type, answer.metadata)

    def _connect(self, url: str, request: Request) -> socket.socket:
        parts, limit = urlsplit(url), request.connect_time(url)
        try:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=limit)
        except TimeoutError as exc:
            raise ServiceTimeoutException(url, "connect", limit) from exc
        except OSError as exc:
            raise ServiceUnavailableException(f"cannot reach {url}: {exc}", url) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        """Close every idle connection."""
        self._idle.close()
