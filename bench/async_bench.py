"""Async services (issue 19): 64 concurrent awaited calls against 8 sync threads and grpc.aio.

Run (from the repository root, with the project's venv and the bench extra, for grpcio):

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/async_bench.py                # about 2 minutes
    .venv/bin/python bench/async_bench.py --rounds 3     # best of 3, interleaved
    BENCH_LOOP=uvloop .venv/bin/python bench/async_bench.py   # every loop (ours, gRPC's) on uvloop

The workload is bench/workload.py's: ``hello(str)`` and ``echo(Data)`` with the 41-node payload,
dispatch-msgpack. Each server runs in its own process, each client in a fresh interpreter:

- ``sync-8``: 8 threads calling the ``def`` methods through one proxy (the embedded server on
  threads, as bench/http_bench.py's ``sw-msgpack``): the baseline;
- ``async-64``: 64 tasks of one event loop awaiting the ``async def`` methods through one proxy
  (the asyncio client), against the embedded server on its asyncio loop (``http.server: auto``
  chooses it, every hosted method being ``async def``);
- ``async-64-threads``: the same client against the same async service served by the threaded
  engine (``http.server: threads``): the async implementation runs on the dispatcher's loop
  thread, which is what the asyncio listener is measured against;
- ``grpc-aio``: grpc.aio on both sides (generic unary handlers, no protoc, the same msgspec
  MessagePack bodies decoded into ``Data``), 64 tasks on one channel: our own code here, set up
  as ../shared/bench/peers sets up gRPC (insecure channel on 127.0.0.1, proxy off).

Each client: 300 warm-up calls, 2000 hello and 1000 echo calls awaited (or called) one at a time
(median and p99, µs), then echo for 2 s at its concurrency (calls/s) with the client's and the
server's CPU per call in that phase. Rounds are interleaved; the best of each figure is kept.
The last three lines are the issue's ratios, exactly so worded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
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

CASES = {
    "sync-8": ("sync", "servicewire sync, 8 threads (threaded embedded server)"),
    "async-64": ("async", "servicewire async, 64 tasks (asyncio embedded server)"),
    "async-64-threads": ("async-threads", "servicewire async, 64 tasks (threaded embedded server)"),
    "grpc-aio": ("grpc-aio", "grpc.aio, 64 tasks (grpc.aio server)"),
}
CONCURRENCY = {"sync-8": 8}
DEFAULT_CONCURRENCY = 64


def use_chosen_loop() -> None:
    if os.environ.get("BENCH_LOOP") == "uvloop":
        import uvloop

        uvloop.install()


# servers (python bench/async_bench.py --server KIND PORT): print "ready", serve until stdin closes


def serve(kind: str, port: int) -> None:
    if kind == "grpc-aio":
        use_chosen_loop()
        asyncio.run(serve_grpc_aio(port))
        return
    import workload
    from dependency_injector import containers, providers

    from channels.http import HttpServer
    from container import ServiceContainer

    config: dict[str, Any] = {"registry": {"type": "static"}}
    if kind == "async-threads":
        config["http"] = {"server": "threads"}
    if os.environ.get("BENCH_LOOP") == "uvloop":
        import uvloop

        uvloop.install()  # the asyncio engine's loop is made by the policy

    class Sync(containers.DeclarativeContainer):
        services = providers.Container(ServiceContainer, config=config)
        bench = providers.Singleton(workload.BenchServiceImpl)

    class Async(containers.DeclarativeContainer):
        services = providers.Container(ServiceContainer, config=config)
        bench = providers.Singleton(workload.AsyncBenchServiceImpl)

    server = HttpServer("127.0.0.1", port)
    server.boot(Sync if kind == "sync" else Async)
    print(f"ready {type(server.engine).__name__}", flush=True)
    sys.stdin.read()
    server.shutdown()


async def serve_grpc_aio(port: int) -> None:
    import grpc
    import msgspec
    from workload import Data

    encode = msgspec.msgpack.Encoder().encode
    decode_str = msgspec.msgpack.Decoder(str).decode
    decode_data = msgspec.msgpack.Decoder(Data).decode

    async def hello(request: bytes, context: Any) -> bytes:
        return encode(decode_str(request))

    async def echo(request: bytes, context: Any) -> bytes:
        return encode(decode_data(request))

    handler = grpc.method_handlers_generic_handler(
        "bench.Bench",
        {
            "Hello": grpc.unary_unary_rpc_method_handler(hello),  # no (de)serializer: raw bytes
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
        },
    )
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready grpc.aio", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(1)


# clients (python bench/async_bench.py --client CASE PORT SERVER_PID)


async def async_client(
    case: str, port: int
) -> tuple[Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]], Any]:
    """Return (hello, echo, close) coroutine functions."""
    if case == "grpc-aio":
        import grpc
        import msgspec
        from workload import Data

        encode = msgspec.msgpack.Encoder().encode
        decode_str = msgspec.msgpack.Decoder(str).decode
        decode_data = msgspec.msgpack.Decoder(Data).decode
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)])
        await asyncio.wait_for(channel.channel_ready(), 20)
        hello_stub = channel.unary_unary("/bench.Bench/Hello")
        echo_stub = channel.unary_unary("/bench.Bench/Echo")

        async def grpc_hello(message: str) -> str:
            return decode_str(await hello_stub(encode(message), timeout=30))  # type: ignore[no-any-return]

        async def grpc_echo(data: Any) -> Any:
            return decode_data(await echo_stub(encode(data), timeout=30))

        return grpc_hello, grpc_echo, channel.close
    from workload import AsyncBenchService

    from container import ServiceClient

    url = f"http://127.0.0.1:{port}"
    client = ServiceClient(
        {"registry": {"type": "static", "components": {"async-bench-component": {"dispatch-msgpack": [url]}}}}
    )
    proxy = client.get_service(AsyncBenchService, "dispatch-msgpack")

    async def close() -> None:
        client.close()  # the connections of this loop are closed on it, at once

    return proxy.hello, proxy.echo, close


async def measure_async(case: str, port: int, server_pid: int) -> dict[str, Any]:
    import workload

    hello, echo, close = await async_client(case, port)
    payload = workload.make_payload()
    assert await hello(workload.HELLO_MESSAGE) == workload.HELLO_MESSAGE
    assert await echo(payload) == payload, "echo must return an equal Data"
    for _ in range(300):
        await hello(workload.HELLO_MESSAGE)
        await echo(payload)

    async def timed(call: Callable[[], Awaitable[Any]], count: int, cap: float) -> list[float]:
        samples = []
        stop = time.monotonic() + cap
        for _ in range(count):
            started = time.perf_counter_ns()
            await call()
            samples.append((time.perf_counter_ns() - started) / 1000)
            if time.monotonic() > stop:
                break
        return samples

    hellos = await timed(lambda: hello(workload.HELLO_MESSAGE), 2000, 8)
    echoes = await timed(lambda: echo(payload), 1000, 12)
    concurrency = CONCURRENCY.get(case, DEFAULT_CONCURRENCY)
    counts = [0] * concurrency

    async def work(index: int, stop: float) -> None:
        while time.monotonic() < stop:
            await echo(payload)
            counts[index] += 1

    await asyncio.gather(*(work(i, time.monotonic() + 0.5) for i in range(concurrency)))  # warm the pool
    counts = [0] * concurrency
    cpu_client, cpu_server = time.process_time(), workload.pid_cpu_seconds(server_pid)
    started = time.monotonic()
    await asyncio.gather(*(work(i, started + 2.0) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    calls = sum(counts)
    result = {
        "hello_median": statistics.median(hellos),
        "echo_median": statistics.median(echoes),
        "echo_p99": workload.p99(echoes),
        "echo_rate": calls / elapsed,
        "client_cpu": (time.process_time() - cpu_client) / calls * 1e6,
        "server_cpu": (workload.pid_cpu_seconds(server_pid) - cpu_server) / calls * 1e6,
    }
    await close()
    return result


def measure_sync(port: int, server_pid: int) -> dict[str, Any]:
    import threading

    import workload
    from workload import BenchService

    from container import ServiceClient

    url = f"http://127.0.0.1:{port}"
    client = ServiceClient(
        {"registry": {"type": "static", "components": {"bench-component": {"dispatch-msgpack": [url]}}}}
    )
    proxy = client.get_service(BenchService, "dispatch-msgpack")
    payload = workload.make_payload()
    assert proxy.echo(payload) == payload
    workload.time_calls(lambda: proxy.hello(workload.HELLO_MESSAGE), 300, 3)
    workload.time_calls(lambda: proxy.echo(payload), 300, 3)
    hellos = workload.time_calls(lambda: proxy.hello(workload.HELLO_MESSAGE), 2000, 8)
    echoes = workload.time_calls(lambda: proxy.echo(payload), 1000, 12)
    workload.throughput(lambda: proxy.echo(payload), seconds=0.5)
    counts = [0] * 8
    stop = time.monotonic() + 2.0

    def work(index: int) -> None:
        while time.monotonic() < stop:
            proxy.echo(payload)
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    cpu_client, cpu_server = time.process_time(), workload.pid_cpu_seconds(server_pid)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    calls = sum(counts)
    result = {
        "hello_median": statistics.median(hellos),
        "echo_median": statistics.median(echoes),
        "echo_p99": workload.p99(echoes),
        "echo_rate": calls / elapsed,
        "client_cpu": (time.process_time() - cpu_client) / calls * 1e6,
        "server_cpu": (workload.pid_cpu_seconds(server_pid) - cpu_server) / calls * 1e6,
    }
    client.close()
    return result


def run_client(case: str, port: int, server_pid: int) -> None:
    if case == "sync-8":
        result = measure_sync(port, server_pid)
    else:
        use_chosen_loop()
        result = asyncio.run(measure_async(case, port, server_pid))
    print(json.dumps(result))


# the run


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(kind: str) -> tuple[subprocess.Popen[str], int, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--server", kind, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.startswith("ready"):
        raise RuntimeError(f"the {kind} server did not start ({line!r})")
    return server, port, line.removeprefix("ready ").strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", help="comma-separated cases: " + ", ".join(CASES))
    parser.add_argument("--server", nargs=2, metavar=("KIND", "PORT"))
    parser.add_argument("--client", nargs=3, metavar=("CASE", "PORT", "SERVER_PID"))
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args()
    if args.server:
        serve(args.server[0], int(args.server[1]))
        return
    if args.client:
        run_client(args.client[0], int(args.client[1]), int(args.client[2]))
        return
    cases = args.only.split(",") if args.only else list(CASES)
    servers: dict[str, tuple[subprocess.Popen[str], int, str]] = {}
    best: dict[str, dict[str, float]] = {}
    loads = [os.getloadavg()[0]]
    try:
        for kind in sorted({CASES[case][0] for case in cases}):
            servers[kind] = start_server(kind)
        for round_ in range(args.rounds):
            for case in cases if round_ % 2 == 0 else list(reversed(cases)):
                server, port, _ = servers[CASES[case][0]]
                out = subprocess.run(
                    [sys.executable, __file__, "--client", case, str(port), str(server.pid)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                )
                if out.returncode != 0:
                    raise RuntimeError(f"client {case} failed:\n{out.stderr}")
                got = json.loads(out.stdout.strip().splitlines()[-1])
                kept = best.setdefault(case, got)
                for key, value in got.items():
                    kept[key] = max(kept[key], value) if key == "echo_rate" else min(kept[key], value)
                print(f"round {round_ + 1} {case}: {got['echo_rate']:.0f} calls/s", file=sys.stderr)
            loads.append(os.getloadavg()[0])
    finally:
        for server, _, _ in servers.values():
            assert server.stdin is not None
            server.stdin.close()
        for server, _, _ in servers.values():
            server.wait(timeout=30)
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=2))
    loop = os.environ.get("BENCH_LOOP") or "asyncio"
    print(
        f"\nbest of {args.rounds} interleaved rounds; event loop: {loop}; "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores\n"
    )
    print(
        "| case | server | hello median µs | echo median µs | echo p99 µs | echo calls/s "
        "| client CPU µs/call | server CPU µs/call |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        r = best[case]
        print(
            f"| {CASES[case][1]} | {servers[CASES[case][0]][2]} | {r['hello_median']:.0f} | {r['echo_median']:.0f} "
            f"| {r['echo_p99']:.0f} | {r['echo_rate']:.0f} | {r['client_cpu']:.0f} | {r['server_cpu']:.0f} |"
        )
    print()
    if "async-64-threads" in best and "async-64" in best:
        ratio = best["async-64"]["echo_rate"] / best["async-64-threads"]["echo_rate"]
        print(f"async 64, asyncio server / threaded server: echo throughput {ratio:.2f}x")
    if {"async-64", "sync-8", "grpc-aio"} <= set(best):
        ours, sync, grpc = best["async-64"], best["sync-8"], best["grpc-aio"]
        print(f"async 64 / sync 8 threads: echo throughput {ours['echo_rate'] / sync['echo_rate']:.2f}x")
        print(f"async / grpc.aio: echo throughput {ours['echo_rate'] / grpc['echo_rate']:.2f}x")
        print(f"async / grpc.aio: echo median {ours['echo_median'] / grpc['echo_median']:.2f}x")


if __name__ == "__main__":
    main()
