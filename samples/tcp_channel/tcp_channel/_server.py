"""The server side: one threaded TCP listener per servicewire Server."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from typing import Any

from container import Server, ServiceManager
from container.codec import MSGPACK_CODEC, CodecError, MethodCodec, encode_error, exception_type_name

from ._frames import MAX_FRAME, Closed, recv_exactly, response_frame

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
