"""The client side: idle connections pooled per URL, every step bounded by the deadline.

Sync calls use blocking sockets with timeouts; awaited calls (``send_async``) use the same
sockets, non-blocking, through asyncio's socket functions on the caller's event loop. An idle
socket belongs to no thread and no loop, so one pool serves both. The core cancels an awaited
exchange when the deadline passes or the caller cancels: the socket is closed then (the answer
will never be read), which tells the server that its caller went away.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import msgspec

from container import CallInterruptedException, ServiceTimeoutException, ServiceUnavailableException
from container.codec import MSGPACK_CODEC
from container.plugin import IdlePool, Request, Response, Settings, Transport, socket_is_stale

from ._frames import answers, frame, read_frame, read_frame_async


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

    async def send_async(self, url: str, request: Request) -> Response:
        """Send one request frame from an event loop and return the answer frame."""
        loop = asyncio.get_running_loop()
        data = frame(request.path, request.wire_metadata(), request.body)
        sock = self._idle.take(url)
        if sock is not None:
            try:
                return await self._exchange_async(loop, url, sock, data)
            except _Unwritten:
                pass  # the server had closed this idle connection: send on a new one
        sock = await self._connect_async(loop, url, request)
        try:
            return await self._exchange_async(loop, url, sock, data)
        except _Unwritten as exc:
            raise ServiceUnavailableException(f"cannot send to {url}: {exc.__cause__}", url) from exc

    async def _exchange_async(
        self, loop: asyncio.AbstractEventLoop, url: str, sock: socket.socket, data: bytes
    ) -> Response:
        sock.setblocking(False)
        try:
            try:
                await loop.sock_sendall(sock, data)
            except OSError as exc:
                raise _Unwritten() from exc
            answer = answers.decode(await read_frame_async(loop, sock))
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            sock.close()
            raise CallInterruptedException(f"connection to {url} broke during the call: {exc}", url) from exc
        except BaseException:  # cancelled half way (the deadline, or the caller): never reused
            sock.close()
            raise
        self._idle.put(url, sock)
        return Response(answer.status, answer.body, MSGPACK_CODEC.content_type, answer.metadata)

    async def _connect_async(
        self, loop: asyncio.AbstractEventLoop, url: str, request: Request
    ) -> socket.socket:
        parts, limit = urlsplit(url), request.connect_time(url)
        sock: socket.socket | None = None
        try:
            family, address = await _address(loop, parts.hostname or "", parts.port or 0)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, address), limit)
        except BaseException as exc:
            if sock is not None:
                sock.close()
            if isinstance(exc, asyncio.TimeoutError):  # first: Python 3.11's TimeoutError is an OSError
                raise ServiceTimeoutException(url, "connect", limit) from exc
            if isinstance(exc, OSError):
                raise ServiceUnavailableException(f"cannot reach {url}: {exc}", url) from exc
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def close(self) -> None:
        """Close every idle connection."""
        self._idle.close()


async def _address(loop: asyncio.AbstractEventLoop, host: str, port: int) -> tuple[int, tuple[str, int]]:
    """The socket family and address of ``host:port``; a name is resolved (asyncio does it in a thread)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        family, _, _, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))[0]
        return family, (str(address[0]), int(address[1]))
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), (str(ip), port)
