"""Which HTTP client for the HTTP transport: three connection layers under the same pipeline.

Run: .venv/bin/python bench/client_choice.py [--rounds 2]

The server is HttpServer (the embedded engine) hosting the bench service; each client is
servicewire's pipeline and dispatch-msgpack codec with a different way of moving the bytes:

- ``httptools``: the transport as shipped (requests written in one buffer, answers parsed by
  httptools, an IdlePool of sockets);
- ``http.client``: one keep-alive ``http.client.HTTPConnection`` per calling thread (the
  transport of servicewire 0.1);
- ``urllib3``: a shared ``urllib3.HTTPConnectionPool`` (maxsize 10, no retries), as requests
  uses underneath.

Prints hello and echo medians, 8-thread echo throughput and client CPU per call, best of the
rounds, each client in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

VARIANTS = ["httptools", "http.client", "urllib3"]


def install_variants() -> None:
    """Register channels 'bench-http.client' and 'bench-urllib3' (their transports differ only in send)."""
    import urllib3

    from channels.http import DispatchMsgpackChannel, HttpTransport
    from container import CallInterruptedException
    from container.plugin import CHANNELS, Request, Response

    class ThreadConnections(HttpTransport):
        local = threading.local()

        def send(self, url: str, request: Request) -> Response:
            connections = getattr(self.local, "connections", None)
            if connections is None:
                connections = self.local.connections = {}
            connection = connections.get(url)
            if connection is None:
                host, port = url.removeprefix("http://").split(":")
                connection = connections[url] = http.client.HTTPConnection(host, int(port), timeout=30)
            headers = {
                "Content-Type": request.content_type,
                "Accept": request.content_type,
                **request.wire_metadata(),
            }
            connection.request("POST", "/invoke/" + request.path, request.body, headers)
            answer = connection.getresponse()
            return Response(answer.status, answer.read(), answer.getheader("Content-Type", ""))

    class Urllib3Pool(HttpTransport):
        pools: ClassVar[dict[str, Any]] = {}

        def send(self, url: str, request: Request) -> Response:
            pool = self.pools.get(url)
            if pool is None:
                pool = self.pools[url] = urllib3.connection_from_url(
                    url, maxsize=10, block=False, retries=False
                )
            headers = {
                "Content-Type": request.content_type,
                "Accept": request.content_type,
                **request.wire_metadata(),
            }
            timeout = urllib3.Timeout(connect=request.connect_timeout, read=request.time_left(url))
            try:
                answer = pool.urlopen(
                    "POST",
                    "/invoke/" + request.path,
                    body=request.body,
                    headers=headers,
                    retries=False,
                    timeout=timeout,
                    preload_content=True,
                )
            except urllib3.exceptions.HTTPError as exc:
                raise CallInterruptedException(str(exc), url) from exc
            return Response(answer.status, answer.data, answer.headers.get("Content-Type", ""))

    for name, transport in (("bench-http.client", ThreadConnections), ("bench-urllib3", Urllib3Pool)):
        channel_class = type(name, (DispatchMsgpackChannel,), {"name": name, "transport": transport})
        CHANNELS.register(name, channel_class)


def run_client(variant: str, url: str) -> dict[str, float]:
    import workload

    from container import ServiceClient

    install_variants()
    channel = "dispatch-msgpack" if variant == "httptools" else f"bench-{variant}"
    client = ServiceClient(
        {"registry": {"type": "static", "components": {"bench-component": {channel: [url]}}}}
    )
    proxy = client.get_service(workload.BenchService, channel)
    payload = workload.make_payload()
    assert proxy.echo(payload) == payload
    workload.time_calls(lambda: proxy.hello(workload.HELLO_MESSAGE), 300, 3)
    cpu = time.process_time()
    hello = workload.time_calls(lambda: proxy.hello(workload.HELLO_MESSAGE), 3000, 8)
    echo = workload.time_calls(lambda: proxy.echo(payload), 1000, 12)
    cpu = (time.process_time() - cpu) / (len(hello) + len(echo)) * 1e6
    rate = workload.throughput(lambda: proxy.echo(payload))
    return {"hello": workload.median(hello), "echo": workload.median(echo), "rate": rate, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--client", nargs=2, metavar=("VARIANT", "URL"))
    arguments = parser.parse_args()
    if arguments.client:
        print(json.dumps(run_client(*arguments.client)))
        return
    import http_bench

    port = http_bench.free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "servers.py"), "servicewire", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "BENCH_SERVER": "engine"},
    )
    assert server.stdout is not None and server.stdout.readline().startswith("ready")
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(arguments.rounds):
            for variant in VARIANTS:
                out = subprocess.run(
                    [
                        sys.executable,
                        str(HERE / "client_choice.py"),
                        "--client",
                        variant,
                        f"http://127.0.0.1:{port}",
                    ],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    check=True,
                    timeout=300,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1])
                kept = best.setdefault(variant, row)
                for key in ("hello", "echo", "cpu"):
                    kept[key] = min(kept[key], row[key])
                kept["rate"] = max(kept["rate"], row["rate"])
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    print("| client | hello median µs | echo median µs | echo calls/s, 8 threads | client CPU µs/call |")
    print("|---|---:|---:|---:|---:|")
    for variant, row in best.items():
        print(
            f"| {variant} | {row['hello']:.0f} | {row['echo']:.0f} | {row['rate']:.0f} | {row['cpu']:.0f} |"
        )


if __name__ == "__main__":
    main()
