"""The client side: one persistent connection per thread and URL."""

from __future__ import annotations

import select
import socket
import threading
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
    MethodDescriptor,
    Server,
    ServiceCommunicationException,
    ServiceManager,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.codec import MSGPACK_CODEC, CodecError, MethodCodec, decode_error

from ._frames import Closed, recv_exactly, request_frame
from ._server import start_listener, stop_listener

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0


class _Connections(threading.local):
    sockets: dict[str, socket.socket] | None = None


class TcpMsgpackChannel(Channel):
    """Carries calls as MessagePack frames over persistent TCP connections.

    Settings (optional), per component: ``components.<name>.connect_timeout`` and
    ``components.<name>.read_timeout`` in seconds (defaults 5 and 30).
    """

    name = "tcp-msgpack"

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
                f"tcp-msgpack address must look like tcp://host:port, got {address.uri!r}"
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
