"""Benchmark servers, one per process: python bench/servers.py KIND PORT.

KIND is ``servicewire`` (HttpServer hosting the bench service; $BENCH_SERVER picks another server:
``asyncio`` and ``uvicorn`` from bench/server_designs.py, or a WSGI server), ``tcp`` (4-byte length prefix,
echoes the bytes) or ``http-echo`` (a minimal keep-alive HTTP server echoing the body). Each
prints ``ready`` once it accepts connections and exits when stdin closes.
"""

from __future__ import annotations

import os
import socket
import socketserver
import sys
import threading
import time
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


def serve_wsgi_with(engine: str, port: int, threads: int):
    """Serve the bench container's WSGI application with another HTTP server, in this process."""
    import workload

    from channels.http import ServiceApplication
    from channels.http.wsgi import WsgiHost

    host = WsgiHost(port)
    host.boot(workload.BenchContainer)
    app = ServiceApplication(host.dispatcher, report=host.manager.report)
    if engine in ("asyncio", "uvicorn"):
        from server_designs import serve_asyncio, serve_uvicorn

        from channels.http._frontend import HttpFrontend

        frontend = HttpFrontend(host.dispatcher, host.manager.report)
        (serve_asyncio if engine == "asyncio" else serve_uvicorn)(frontend, "127.0.0.1", port, threads)
        return host
    if engine == "waitress":
        from waitress.server import create_server

        waitress = create_server(app, host="127.0.0.1", port=port, threads=threads, asyncore_loop_timeout=1)
        threading.Thread(target=waitress.run, daemon=True).start()
    elif engine == "cheroot":
        from cheroot.wsgi import Server as Cheroot

        cheroot = Cheroot(("127.0.0.1", port), app, numthreads=threads)
        threading.Thread(target=cheroot.start, daemon=True).start()
        while not cheroot.ready:
            time.sleep(0.01)
    else:
        raise SystemExit(f"unknown BENCH_SERVER {engine!r}")
    return host


def serve_in_child(engine: str, port: int, threads: int) -> None:
    """Serve the bench WSGI application with granian or gunicorn (one worker process), until stdin closes."""
    import subprocess

    bench = Path(__file__).resolve().parent
    if engine == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
        command += [
            "--port",
            str(port),
            "--workers",
            "1",
            "--blocking-threads",
            str(threads),
            "granian_app:app",
        ]
    else:
        command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", str(threads), "-w", "1"]
        command += ["-b", f"127.0.0.1:{port}", "granian_app:app"]
    child = subprocess.Popen(
        command,
        cwd=bench,
        env={**os.environ, "BENCH_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1.0)  # the worker booted its container after the port opened
    print("ready -", flush=True)
    sys.stdin.read()
    child.terminate()
    child.wait(timeout=30)


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "servicewire":
        import workload

        engine = os.environ.get("BENCH_SERVER", "engine")
        threads = int(os.environ.get("BENCH_THREADS", "8"))
        if engine in ("granian", "gunicorn"):
            serve_in_child(engine, port, threads)
            return
        if engine == "engine":
            from channels.http import HttpServer

            tls_dir = os.environ.get("BENCH_TLS_DIR")
            tls = None
            if tls_dir:
                tls = {"certfile": f"{tls_dir}/server.pem", "keyfile": f"{tls_dir}/server.key"}
            server = HttpServer("127.0.0.1", port, threads=threads, tls=tls)
            server.boot(workload.BenchContainer)
        else:
            server = serve_wsgi_with(engine, port, threads)
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
