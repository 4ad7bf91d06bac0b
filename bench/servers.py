"""Benchmark servers, one per process: python bench/servers.py KIND PORT.

KIND is ``servicewire`` (HttpServer hosting the bench service), ``tcp`` (4-byte length prefix,
echoes the bytes) or ``http-echo`` (a minimal keep-alive HTTP server echoing the body). Each
prints ``ready`` once it accepts connections and exits when stdin closes.
"""

from __future__ import annotations

import os
import socket
import socketserver
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = conn.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                header = recv_exactly(conn, 4)
                body = recv_exactly(conn, int.from_bytes(header, "big"))
                conn.sendall(header + body)
        except ConnectionError:
            return


class HttpEcho(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
        except ConnectionError:
            return


class Threaded(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "servicewire":
        import workload
        from dependency_injector import containers, providers

        from channels.http import HttpServer
        from container import ServiceContainer

        class BenchContainer(containers.DeclarativeContainer):
            services = providers.Container(ServiceContainer, config={"registry": {"type": "static"}})
            bench = providers.Singleton(workload.BenchServiceImpl)

        server = HttpServer("127.0.0.1", port, threads=int(os.environ.get("BENCH_THREADS", "8")))
        server.boot(BenchContainer)
        assert server.manager is not None
        from container import descriptor_of

        offered = server.manager.component_registry.get_addresses(descriptor_of(workload.BenchComponent))  # type: ignore[arg-type]
        tcp = next((a.urls[0] for a in offered if a.channel == "tcp-msgpack"), "-")
        print(f"ready {tcp}", flush=True)
        sys.stdin.read()
        server.shutdown()
        return
    handler = {"tcp": TcpEcho, "http-echo": HttpEcho}[kind]
    with Threaded(("127.0.0.1", port), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print("ready", flush=True)
        sys.stdin.read()
        server.shutdown()


if __name__ == "__main__":
    main()
