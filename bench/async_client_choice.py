"""Which asyncio HTTP client for the dispatch channels: httpx, aiohttp, or our own on httptools.

Run: .venv/bin/python bench/async_client_choice.py [--rounds 2]
(needs httpx and aiohttp: ``.venv/bin/pip install -e '.[bench]'``)

The server is HttpServer (the embedded engine) hosting the bench service in its own process.
Each client, in a fresh interpreter, sends the same dispatch-msgpack calls from one event loop
(the bench service's method codec encodes the call and decodes the answer, the same for all):

- ``own``: servicewire's asyncio transport (``PoolTransport.send_async``: asyncio Protocols,
  answers parsed by httptools, a pool per event loop);
- ``httpx``: ``httpx.AsyncClient`` (limits: 100 connections, 100 kept alive);
- ``aiohttp``: ``aiohttp.ClientSession`` (a ``TCPConnector`` of 100 connections).

Measured: 300 warm-up calls, 2000 hello and 1000 echo calls awaited one at a time (median and
p99, µs), then 64 tasks calling echo for 2 s (calls/s) and the client's CPU per call in that
phase. Best of the rounds (lowest median and CPU, highest throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

VARIANTS = ["own", "httpx", "aiohttp"]
CONCURRENCY = 64
PATH = "/invoke/bench-component/bench-service/"
MSGPACK = "application/msgpack"


def codecs() -> tuple[Any, Any, Any]:
    from workload import BenchService, make_payload

    from container import descriptor_of
    from container.codec import MSGPACK_CODEC, MethodCodec

    methods = descriptor_of(BenchService).methods
    return (
        MethodCodec(methods["hello"], MSGPACK_CODEC),
        MethodCodec(methods["echo"], MSGPACK_CODEC),
        make_payload(),
    )


def sender(
    variant: str, base: str
) -> tuple[Callable[[str, bytes], Awaitable[bytes]], Callable[[], Awaitable[None]]]:
    """Return (send(method, body) -> answer body, close) for one client."""
    headers = {"Content-Type": MSGPACK, "Accept": MSGPACK}
    if variant == "own":
        from channels.http import PoolTransport
        from container.plugin import Request, Settings

        transport = PoolTransport(Settings({}))

        async def send_own(method: str, body: bytes) -> bytes:
            request = Request(f"bench-component/bench-service/{method}", body, MSGPACK, {}, None, 5.0)
            response = await transport.send_async(base, request)
            assert response.status == 200, response
            return response.body

        async def close_own() -> None:
            await transport.aclose()

        return send_own, close_own
    if variant == "httpx":
        import httpx

        client = httpx.AsyncClient(
            base_url=base,
            headers=headers,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            trust_env=False,
        )

        async def send_httpx(method: str, body: bytes) -> bytes:
            response = await client.post(PATH + method, content=body)
            assert response.status_code == 200, response
            return response.content

        return send_httpx, client.aclose
    import aiohttp

    session: list[Any] = []

    async def send_aiohttp(method: str, body: bytes) -> bytes:
        if not session:
            session.append(
                aiohttp.ClientSession(
                    base, headers=headers, connector=aiohttp.TCPConnector(limit=100), trust_env=False
                )
            )
        async with session[0].post(PATH + method, data=body) as response:
            assert response.status == 200, response
            return await response.read()

    async def close_aiohttp() -> None:
        if session:
            await session[0].close()

    return send_aiohttp, close_aiohttp


async def measure(variant: str, base: str) -> dict[str, float]:
    import statistics

    hello_codec, echo_codec, payload = codecs()
    send, close = sender(variant, base)
    hello_body = hello_codec.encode_call(("hello world",), {})
    echo_body = echo_codec.encode_call((payload,), {})

    async def hello() -> None:
        assert hello_codec.decode_result(await send("hello", hello_body)) == "hello world"

    async def echo() -> None:
        echo_codec.encode_call((payload,), {})  # the client encodes every call, as a proxy does
        assert echo_codec.decode_result(await send("echo", echo_body)) == payload

    for _ in range(300):
        await hello()
        await echo()

    async def timed(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
        samples = []
        for _ in range(count):
            started = time.perf_counter_ns()
            await call()
            samples.append((time.perf_counter_ns() - started) / 1000)
        return samples

    hellos = await timed(hello, 2000)
    echoes = await timed(echo, 1000)
    counts = [0] * CONCURRENCY
    stop = time.monotonic() + 2.0

    async def work(index: int) -> None:
        while time.monotonic() < stop:
            await echo()
            counts[index] += 1

    cpu, started = time.process_time(), time.monotonic()
    await asyncio.gather(*(work(i) for i in range(CONCURRENCY)))
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    await close()
    ordered = sorted(echoes)
    return {
        "hello_median": statistics.median(hellos),
        "echo_median": statistics.median(echoes),
        "echo_p99": ordered[int(len(ordered) * 0.99)],
        "throughput": sum(counts) / elapsed,
        "client_cpu": cpu / sum(counts) * 1e6,
    }


def run_client(variant: str, port: int) -> None:
    print(json.dumps(asyncio.run(measure(variant, f"http://127.0.0.1:{port}"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--client", nargs=2, metavar=("VARIANT", "PORT"))
    args = parser.parse_args()
    if args.client:
        run_client(args.client[0], int(args.client[1]))
        return
    from http_bench import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(HERE / "servers.py"), "servicewire", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    server.stdout.readline()
    best: dict[str, dict[str, float]] = {}
    try:
        for round_ in range(args.rounds):
            for variant in VARIANTS if round_ % 2 == 0 else reversed(VARIANTS):
                out = subprocess.run(
                    [sys.executable, __file__, "--client", variant, str(port)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                old = best.get(variant)
                if old is None:
                    best[variant] = got
                else:
                    for key, value in got.items():
                        old[key] = max(old[key], value) if key == "throughput" else min(old[key], value)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    print(
        f"\nbest of {args.rounds} rounds, {CONCURRENCY} tasks for throughput, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| client | hello median µs | echo median µs | echo p99 µs | echo calls/s, 64 tasks | client CPU µs/call |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for variant in VARIANTS:
        r = best[variant]
        print(
            f"| {variant} | {r['hello_median']:.0f} | {r['echo_median']:.0f} | {r['echo_p99']:.0f} "
            f"| {r['throughput']:.0f} | {r['client_cpu']:.0f} |"
        )
    own = best["own"]
    for variant in VARIANTS[1:]:
        print(
            f"own / {variant}: echo throughput {own['throughput'] / best[variant]['throughput']:.2f}x, "
            f"echo median {own['echo_median'] / best[variant]['echo_median']:.2f}x"
        )


if __name__ == "__main__":
    main()
