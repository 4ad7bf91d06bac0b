"""A channel plugin written exactly to the first plugin guide (servicewire 0.1): a compatibility fixture.

This is the tcp-msgpack sample as it was published before the call pipeline: its channel
overrides ``invoke`` and calls ``call_with_failover``; its server side starts a listener in
``prepare_server`` and stops it in ``stop_server``, routing with
``server.manager.hosted_components()`` and ``manager.get_instance(service.implementation)``.
The tests run the conformance kit over it to show that plugins written to that contract keep
working. Its name changed (``tcp-first-contract``, registered with ``@channel``), the three
modules became one, and ``MethodDescriptor`` is imported from ``container.plugin`` (its old
import still works, with a DeprecationWarning that says so); the code is as published.
"""

from __future__ import annotations

import logging
import select
import socket
import socketserver
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from container import (
    CallInterruptedException,
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ConfigurationException,
    Invocation,
    Server,
    ServiceCommunicationException,
    ServiceManager,
    ServiceTimeoutException,
    ServiceUnavailableException,
    channel,
)
from container.codec import (
    MSGPACK_CODEC,
    CodecError,
    MethodCodec,
    decode_error,
    encode_error,
    exception_type_name,
)
from container.plugin import MethodDescriptor

MAX_FRAME = 8 * 1024 * 1024
"""Largest frame accepted, in bytes."""


class Closed(Exception):
    """The peer closed the connection."""


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes.

    Raises:
        Closed: the peer closed the connection first.
    """
    if size == 0:
        return b""
    data = sock.recv(size)
    if not data:
        raise Closed("connection closed by peer")
    if len(data) == size:
        return data
    parts = [data]
    remaining = size - len(data)
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise Closed("connection closed by peer")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def request_frame(path: bytes, body: bytes) -> bytes:
    """Build a request frame."""
    return (2 + len(path) + len(body)).to_bytes(4, "big") + len(path).to_bytes(2, "big") + path + body


def response_frame(status: int, body: bytes) -> bytes:
    """Build a response frame."""
    return (2 + len(body)).to_bytes(4, "big") + status.to_bytes(2, "big") + body


logger = logging.getLogger("tcp_channel")

_listeners: dict[int, _Listener] = {}
_lock = threading.Lock()


class _Handler(socketserver.BaseRequestHandler):
    server: _Listener

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener = self.server
        listener.track(conn)
        try:
            while True:
                size = int.from_bytes(recv_exactly(conn, 4), "big")
                if size > MAX_FRAME or size < 2:
                    conn.sendall(
                        response_frame(
                            413,
                            encode_error(MSGPACK_CODEC, "PayloadTooLarge", f"frame of {size} bytes refused"),
                        )
                    )
                    return
                frame = recv_exactly(conn, size)
                conn.sendall(listener.dispatch(frame))
        except (Closed, OSError):
            return
        finally:
            # Close before untracking, so that a stopped listener has closed every connection.
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            listener.untrack(conn)


class _Listener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, manager: ServiceManager, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.routes: dict[bytes, tuple[Any, MethodCodec]] = {}
        for component in manager.hosted_components():
            for service in component.services:
                if service.implementation is None:
                    continue
                instance = manager.get_instance(service.implementation)
                for method in service.methods.values():
                    self.routes[method.path.encode()] = (
                        getattr(instance, method.name),
                        MethodCodec(method, MSGPACK_CODEC),
                    )
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def track(self, conn: socket.socket) -> None:
        with self.connections_lock:
            self.connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self.connections_lock:
            self.connections.discard(conn)

    def dispatch(self, frame: bytes) -> bytes:
        path_length = int.from_bytes(frame[:2], "big")
        path = frame[2 : 2 + path_length]
        route = self.routes.get(path)
        if route is None:
            text = path.decode("utf-8", "replace")
            return response_frame(
                404, encode_error(MSGPACK_CODEC, "NotFound", f"no service method at {text}")
            )
        function, codec = route
        try:
            args, kwargs = codec.decode_call(frame[2 + path_length :])
        except CodecError as exc:
            return response_frame(400, encode_error(MSGPACK_CODEC, "BadRequest", str(exc)))
        try:
            return response_frame(200, codec.encode_result(function(*args, **kwargs)))
        except Exception as exc:
            return response_frame(500, encode_error(MSGPACK_CODEC, exception_type_name(exc), str(exc)))

    def stop(self, timeout: float = 5.0) -> None:
        self.shutdown()
        self.server_close()
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            # Stop reading: a call being served still sends its answer, then the handler ends
            # and closes the connection.
            try:
                conn.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.connections_lock:
                if not self.connections:
                    return
            time.sleep(0.005)
        with self.connections_lock:
            stragglers = list(self.connections)
        for conn in stragglers:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def start_listener(server: Server, host: str, port: int) -> int:
    """Start (once per server) the listener serving the server's hosted components; return its port."""
    with _lock:
        listener = _listeners.get(id(server))
        if listener is None:
            assert server.manager is not None, "prepare_server runs during boot"
            listener = _Listener(server.manager, host, port)
            serve = lambda: listener.serve_forever(poll_interval=0.05)  # noqa: E731 - quick stop
            threading.Thread(target=serve, name="tcp-msgpack-listener", daemon=True).start()
            _listeners[id(server)] = listener
        return int(listener.server_address[1])


def stop_listener(server: Server) -> None:
    """Stop the server's listener, if it has one."""
    with _lock:
        listener = _listeners.pop(id(server), None)
    if listener is not None:
        listener.stop()


DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0


class _Connections(threading.local):
    sockets: dict[str, socket.socket] | None = None


@channel("tcp-first-contract")
class TcpMsgpackChannel(Channel):
    """Carries calls as MessagePack frames over persistent TCP connections.

    Settings (optional), per component: ``components.<name>.connect_timeout`` and
    ``components.<name>.read_timeout`` in seconds (defaults 5 and 30).
    """

    name = "tcp-first-contract"

    def __init__(self) -> None:
        super().__init__()
        self._codecs: dict[MethodDescriptor, tuple[MethodCodec, bytes]] = {}
        self._local = _Connections()
        self._all: list[socket.socket] = []
        self._all_lock = threading.Lock()
        self.connect_timeout = DEFAULT_CONNECT_TIMEOUT
        self.read_timeout = DEFAULT_READ_TIMEOUT

    def setup(
        self,
        component_descriptor: ComponentDescriptor[Any],
        address: ChannelInstances,
        manager: ServiceManager | None = None,
    ) -> None:
        """Bind to the component and read its timeouts."""
        super().setup(component_descriptor, address, manager)
        settings = manager.component_settings(component_descriptor.name) if manager else {}
        self.connect_timeout = _seconds(
            settings, "connect_timeout", DEFAULT_CONNECT_TIMEOUT, component_descriptor.name
        )
        self.read_timeout = _seconds(
            settings, "read_timeout", DEFAULT_READ_TIMEOUT, component_descriptor.name
        )

    # calls

    def invoke(self, invocation: Invocation) -> Any:
        """Send the call as one frame and decode the answer frame."""
        method = invocation.method
        found = self._codecs.get(method)
        if found is None:
            found = self._codecs[method] = (MethodCodec(method, MSGPACK_CODEC), method.path.encode())
        codec, path = found
        frame = request_frame(path, codec.encode_call(invocation.args, invocation.kwargs))
        status, body = self.call_with_failover(method, lambda url: self._exchange(url, frame))
        if status == 200:
            try:
                return codec.decode_result(body)
            except CodecError as exc:
                raise ServiceCommunicationException(f"bad answer for {method.path}: {exc}") from exc
        raise decode_error(MSGPACK_CODEC, body, status)

    def _exchange(self, url: str, frame: bytes) -> tuple[int, bytes]:
        sockets = self._local.sockets
        if sockets is None:
            sockets = self._local.sockets = {}
        sock = sockets.get(url)
        if sock is not None and _dropped(sock):
            self._drop(sockets, url)
            sock = None
        reused = sock is not None
        if sock is None:
            sock = self._connect(url)
            sockets[url] = sock
        try:
            sock.sendall(frame)
        except OSError as exc:
            self._drop(sockets, url)
            if not reused:
                raise CallInterruptedException(f"sending to {url} failed: {exc}", url) from exc
            # The server closed an idle connection as we wrote: it read nothing. Send once more.
            sock = sockets[url] = self._connect(url)
            try:
                sock.sendall(frame)
            except OSError as again:
                self._drop(sockets, url)
                raise CallInterruptedException(f"sending to {url} failed: {again}", url) from again
        try:
            header = recv_exactly(sock, 4)
            payload = recv_exactly(sock, int.from_bytes(header, "big"))
        except TimeoutError as exc:
            self._drop(sockets, url)
            raise ServiceTimeoutException(url, "read", self.read_timeout) from exc
        except (OSError, Closed) as exc:
            self._drop(sockets, url)
            raise CallInterruptedException(f"connection to {url} broke during the call: {exc}", url) from exc
        return int.from_bytes(payload[:2], "big"), payload[2:]

    def _connect(self, url: str) -> socket.socket:
        parts = urlsplit(url)
        if parts.scheme != "tcp" or not parts.hostname or not parts.port:
            raise ServiceUnavailableException(f"{url!r} is not a tcp://host:port address", url)
        try:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise ServiceTimeoutException(url, "connect", self.connect_timeout) from exc
        except OSError as exc:
            raise ServiceUnavailableException(f"cannot reach {url}: {exc}", url) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        with self._all_lock:
            self._all.append(sock)
        return sock

    def _drop(self, sockets: dict[str, socket.socket], url: str) -> None:
        sock = sockets.pop(url, None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Close every thread's connections."""
        with self._all_lock:
            all_sockets, self._all = self._all, []
        for sock in all_sockets:
            sock.close()
        self._local = _Connections()

    # server side

    @classmethod
    def prepare_server(
        cls, server: Server, component_descriptor: ComponentDescriptor[Any], address: ChannelAddress
    ) -> ChannelAddress:
        """Start this server's listener (once) where ``address`` says; return the bound address."""
        parts = urlsplit(address.uri)
        if parts.scheme != "tcp" or not parts.hostname:
            raise ConfigurationException(
                f"tcp-first-contract address must look like tcp://host:port, got {address.uri!r}"
            )
        port = start_listener(server, parts.hostname, parts.port or 0)
        return ChannelAddress(cls.name, f"tcp://{parts.hostname}:{port}")

    @classmethod
    def stop_server(cls, server: Server) -> None:
        """Stop this server's listener, letting calls in progress answer."""
        stop_listener(server)


def _dropped(sock: socket.socket) -> bool:
    # An idle connection that is readable was closed by the server: do not reuse it.
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _seconds(settings: Any, key: str, default: float, component: str) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationException(
            f"config key 'components.{component}.{key}' must be positive seconds, got {value!r}"
        )
    return float(value)
