"""The server side: a threaded TCP listener that hands each frame to the dispatcher.

Each connection has a thread that reads a frame, asks :meth:`Dispatcher.handle` for the answer
and writes it. A ``def`` implementation runs right there; an ``async def`` one runs on the
dispatcher's event loop while the thread waits, and meanwhile the listener's own small event
loop watches the caller's socket: a caller that hangs up cancels the request's
:class:`~container.plugin.Cancellation`, and the dispatcher cancels the implementation.
"""

from __future__ import annotations

import socket
import socketserver
import threading

import msgspec

from container import ChannelAddress
from container.codec import MSGPACK_CODEC
from container.plugin import BackgroundLoop, Cancellation, Listener, ServerRequest

from ._frames import FrameTooLarge, frame, read_frame, requests


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        conn, listener = self.request, self.server.listener
        dispatcher = listener.dispatcher
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
                request = ServerRequest(path, body, MSGPACK_CODEC.content_type, metadata, peer)
                if dispatcher.is_async(path):  # it may outlive its caller: watch the socket meanwhile
                    cancellation = Cancellation()
                    with listener.watching(conn, cancellation):
                        watched = msgspec.structs.replace(request, cancellation=cancellation)
                        answer = dispatcher.handle(watched)
                else:
                    answer = dispatcher.handle(request)
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
    request_queue_size = 128  # the backlog: callers awaiting many calls at once connect at once

    def __init__(self, listener: TcpListener, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.listener = listener
        self.connections: set[socket.socket] = set()  # add/discard are atomic: no lock needed


class _Watch:
    """Watches a caller's socket on the listener's loop while its call runs; a hang-up cancels it."""

    def __init__(self, watcher: BackgroundLoop, conn: socket.socket, cancellation: Cancellation) -> None:
        self.loop = watcher.loop
        self.conn = conn
        self.fd = conn.fileno()
        self.cancellation = cancellation

    def __enter__(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.add_reader, self.fd, self._readable)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.remove_reader, self.fd)

    def _readable(self) -> None:
        try:
            peeked = self.conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            peeked = b""
        self.loop.remove_reader(self.fd)  # either way, nothing more to learn here
        if not peeked:  # end of stream: the caller hung up
            self.cancellation.cancel()


class TcpListener(Listener):
    """One listening socket per server, serving every hosted component."""

    _server: _Server | None = None
    _watcher: BackgroundLoop | None = None

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Listen (on the first call) where ``address`` says; return the bound address."""
        host, _, port = address.uri.removeprefix("tcp://").rstrip("/").rpartition(":")
        if self._server is None:
            self._server = _Server(self, host, int(port or 0))
            self._watcher = BackgroundLoop("tcp-msgpack-watcher")
            threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return ChannelAddress(address.channel, f"tcp://{host}:{self._server.server_address[1]}")  # type: ignore[misc]

    def watching(self, conn: socket.socket, cancellation: Cancellation) -> _Watch:
        """Watch ``conn`` while its call runs: if the caller hangs up, ``cancellation`` is cancelled."""
        assert self._watcher is not None
        return _Watch(self._watcher, conn, cancellation)

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections keep being served."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def close(self) -> None:
        """Shut every connection down (calls in flight were drained before) and stop watching."""
        for conn in list(self._server.connections if self._server is not None else ()):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._watcher is not None:
            self._watcher.close()
