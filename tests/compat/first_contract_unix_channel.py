"""A channel and a registry written to the first plugin guide, over Unix sockets: a compatibility fixture.

This is how a third party wrote plugins for servicewire 0.1, imports included: everything from
``container`` (``MethodDescriptor``, ``WatchList``, ``create_registry``, ``REGISTRIES`` were
there then), the codec from ``container.codec``. The channel overrides ``invoke`` and calls
``call_with_failover``; its server side starts in ``prepare_server`` and stops in
``stop_server``; its addresses are ``unix:///path/to/socket``, which name no host. The registry
keeps this process's addresses in memory and tells the watching channels through a
``WatchList``. Both must keep working, under ``-W error`` too (tests/compat/test_first_contract.py).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from container import (
    REGISTRIES,
    CallInterruptedException,
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ComponentRegistry,
    ConfigurationException,
    Invocation,
    MethodDescriptor,
    Server,
    ServiceCommunicationException,
    ServiceUnavailableException,
    WatchList,
    channel,
    create_registry,
)
from container.codec import (
    MSGPACK_CODEC,
    CodecError,
    MethodCodec,
    decode_error,
    encode_error,
    exception_type_name,
)

from .first_contract_channel import MAX_FRAME, Closed, recv_exactly, request_frame, response_frame

NAME = "unix-first-contract"


def socket_path(url: str) -> str:
    """The file system path of a ``unix:///path`` URL."""
    return urlsplit(url).path


class _UnixListener:
    """Serves the hosted components of one server on one Unix socket, a thread per connection."""

    def __init__(self, server: Server, path: str) -> None:
        assert server.manager is not None, "prepare_server runs during boot"
        manager = server.manager
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
        self.path = path
        if os.path.exists(path):
            os.unlink(path)  # a socket file left by a process that died
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen()
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, name="unix-first-contract", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by stop()
            with self.lock:
                self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                size = int.from_bytes(recv_exactly(conn, 4), "big")
                if size > MAX_FRAME or size < 2:
                    body = encode_error(MSGPACK_CODEC, "PayloadTooLarge", f"frame of {size} bytes refused")
                    conn.sendall(response_frame(413, body))
                    return
                conn.sendall(self._dispatch(recv_exactly(conn, size)))
        except (Closed, OSError):
            return
        finally:
            conn.close()
            with self.lock:
                self.connections.discard(conn)

    def _dispatch(self, frame: bytes) -> bytes:
        path_length = int.from_bytes(frame[:2], "big")
        route = self.routes.get(frame[2 : 2 + path_length])
        if route is None:
            return response_frame(404, encode_error(MSGPACK_CODEC, "NotFound", "no such method"))
        function, codec = route
        try:
            args, kwargs = codec.decode_call(frame[2 + path_length :])
        except CodecError as exc:
            return response_frame(400, encode_error(MSGPACK_CODEC, "BadRequest", str(exc)))
        try:
            return response_frame(200, codec.encode_result(function(*args, **kwargs)))
        except Exception as exc:
            return response_frame(500, encode_error(MSGPACK_CODEC, exception_type_name(exc), str(exc)))

    def stop(self) -> None:
        self.sock.close()
        with self.lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if os.path.exists(self.path):
            os.unlink(self.path)


_listeners: dict[int, _UnixListener] = {}
_lock = threading.Lock()


class _Connections(threading.local):
    sockets: dict[str, socket.socket] | None = None


@channel(NAME)
class UnixMsgpackChannel(Channel):
    """MessagePack frames over Unix domain sockets: addresses are ``unix:///path``."""

    name = NAME

    def __init__(self) -> None:
        super().__init__()
        self._codecs: dict[MethodDescriptor, tuple[MethodCodec, bytes]] = {}
        self._local = _Connections()
        self._all: list[socket.socket] = []
        self._all_lock = threading.Lock()

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
        if sock is None:
            sock = sockets[url] = self._connect(url)
        try:
            sock.sendall(frame)
            header = recv_exactly(sock, 4)
            payload = recv_exactly(sock, int.from_bytes(header, "big"))
        except (OSError, Closed) as exc:
            sockets.pop(url, None)
            sock.close()
            raise CallInterruptedException(f"connection to {url} broke during the call: {exc}", url) from exc
        return int.from_bytes(payload[:2], "big"), payload[2:]

    def _connect(self, url: str) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10.0)
        try:
            sock.connect(socket_path(url))
        except OSError as exc:
            sock.close()
            raise ServiceUnavailableException(f"cannot reach {url}: {exc}", url) from exc
        with self._all_lock:
            self._all.append(sock)
        return sock

    def close(self) -> None:
        """Close every thread's connections."""
        with self._all_lock:
            all_sockets, self._all = self._all, []
        for sock in all_sockets:
            sock.close()
        self._local = _Connections()

    @classmethod
    def prepare_server(
        cls, server: Server, component_descriptor: ComponentDescriptor[Any], address: ChannelAddress
    ) -> ChannelAddress:
        """Listen (once per server) on the socket path the address names; register it as it is."""
        parts = urlsplit(address.uri)
        if parts.scheme != "unix" or parts.netloc or not parts.path:
            raise ConfigurationException(f"{NAME} addresses look like unix:///path, got {address.uri!r}")
        with _lock:
            if id(server) not in _listeners:
                _listeners[id(server)] = _UnixListener(server, parts.path)
        return address

    @classmethod
    def stop_server(cls, server: Server) -> None:
        """Stop this server's listener and remove its socket file."""
        with _lock:
            listener = _listeners.pop(id(server), None)
        if listener is not None:
            listener.stop()


# The registry of the first guide: this process's registrations, kept in memory and shared by
# every registry object of the process, with channels told through a WatchList.

_registered: dict[str, list[ChannelAddress]] = {}
_registered_lock = threading.Lock()


class SharedMemoryRegistry(ComponentRegistry):
    """Addresses registered in this process, visible to every registry object of the process."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._watched = WatchList()

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        with _registered_lock:
            _registered[descriptor.name] = list(addresses)
        self._watched.push(self._addresses)

    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        with _registered_lock:
            _registered.pop(descriptor.name, None)
        self._watched.push(self._addresses)

    def watch(self, channel: Channel) -> None:
        self._watched.add(channel)

    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        return self._addresses(descriptor.name)

    def close(self) -> None:
        self._watched.clear()

    @staticmethod
    def _addresses(component: str) -> list[ChannelInstances]:
        with _registered_lock:
            addresses = list(_registered.get(component, []))
        by_channel: dict[str, list[str]] = {}
        for address in addresses:
            by_channel.setdefault(address.channel, []).append(address.uri)
        return [ChannelInstances(component, name, urls) for name, urls in by_channel.items()]


REGISTRIES.register("compat-memory", SharedMemoryRegistry)


def registry() -> ComponentRegistry:
    """A registry object made the first guide's way: ``create_registry`` with a config mapping."""
    return create_registry({"registry": {"type": "compat-memory"}})
