"""The server side: a threaded TCP listener that hands each frame to the dispatcher."""

from __future__ import annotations

import socket
import socketserver
import threading

import msgspec

from container import ChannelAddress
from container.plugin import MSGPACK_CODEC, Listener, ServerRequest

from ._frames import FrameTooLarge, frame, read_frame, requests


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn, dispatcher = self.request, self.server.listener.dispatcher
        peer = "{}:{}".format(*self.client_address)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(conn)
        try:
            while True:
                try:
                    path, metadata, body = requests.decode(read_frame(conn))
                except (ValueError, msgspec.DecodeError) as exc:  # too large or malformed: say so, hang up
                    status = 413 if isinstance(exc, FrameTooLarge) else 400
                    conn.sendall(frame(status, dispatcher.error_response(status, str(exc)).body))
                    return
                answer = dispatcher.handle(
                    ServerRequest(path, body, MSGPACK_CODEC.content_type, metadata, peer)
                )
                # The answer's metadata, when it has some, is a third field.
                extra = (dict(answer.metadata),) if answer.metadata else ()
                conn.sendall(frame(answer.status, answer.body, *extra))
        except OSError:  # the peer left, or close() shut the connection down
            return
        finally:
            self.server.connections.discard(conn)
            conn.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = allow_reuse_address = True

    def __init__(self, listener: TcpListener, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.listener = listener
        self.connections: set[socket.socket] = set()  # add/discard are atomic: no lock needed


class TcpListener(Listener):
    """One listening socket per server, serving every hosted component."""

    _server: _Server | None = None

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Listen (on the first call) where ``address`` says; return the bound address."""
        host, _, port = address.uri.removeprefix("tcp://").rstrip("/").rpartition(":")
        if self._server is None:
            self._server = _Server(self, host, int(port or 0))
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return ChannelAddress(address.channel, f"tcp://{host}:{self._server.server_address[1]}")  # type: ignore[misc]

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections keep being served."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def close(self) -> None:
        """Shut every connection down (calls in flight were drained before)."""
        for conn in list(self._server.connections if self._server is not None else ()):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
