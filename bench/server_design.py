"""How to build the embedded server so that no connection holds a worker: three designs, one run.

Run: .venv/bin/python bench/server_design.py [--rounds 2] [--no-peers]

Every design keeps all socket I/O on one event loop and computes answers on 8 worker threads
(issue "The HTTP layer to production standard", item 1):

- ``engine``: the embedded server as shipped (channels/http/_engine.py: a selector loop).
- ``asyncio``: the same request reader on asyncio's standard event loop (bench/server_designs.py).
- ``uvicorn``: uvicorn in process with an ASGI adapter of the same frontend (bench/server_designs.py).

Each serves bench/http_bench.py's workload in its own process, measured by http_bench.py's
client (``sw-msgpack``); then ``sw-msgpack-slow`` measures 8-thread echo throughput without and
then beside 8 connections that pipeline echo calls with a 1 KB receive window and never read,
against one server from one client process (the "slow / without" column). Rounds interleave the designs; each figure
is the best of the rounds. gRPC Python (the peers harness, ``d1``) runs once in the same run
as the baseline of the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import http_bench  # noqa: E402

DESIGNS = {
    "engine": "(a) embedded, selector loop does all I/O (shipped)",
    "asyncio": "(b) embedded on asyncio protocols + httptools",
    "uvicorn": "(c) uvicorn in process (httptools, asyncio), ASGI adapter",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", help="comma-separated designs")
    parser.add_argument("--no-peers", action="store_true", help="skip gRPC (no ratios)")
    arguments = parser.parse_args()
    designs = arguments.only.split(",") if arguments.only else list(DESIGNS)
    best: dict[str, dict[str, Any]] = {}
    for _ in range(arguments.rounds):
        for design in designs:
            os.environ["BENCH_SERVER"] = design
            plain = http_bench.run_case("sw-msgpack")
            slow = http_bench.run_case("sw-msgpack-slow")
            ratio = slow["echo_rate"] / slow["echo_rate_without"]
            kept = best.setdefault(design, {**plain, "slow_rate": slow["echo_rate"], "slow_ratio": ratio})
            for key in ("hello_median", "echo_median", "cpu_server_us", "cpu_client_us"):
                kept[key] = min(kept[key], plain[key])
            kept["echo_rate"] = max(kept["echo_rate"], plain["echo_rate"])
            kept["slow_rate"] = max(kept["slow_rate"], slow["echo_rate"])
            kept["slow_ratio"] = max(kept["slow_ratio"], ratio)
    os.environ.pop("BENCH_SERVER", None)
    grpc = {} if arguments.no_peers else http_bench.run_peers().get("d1", {})
    print(
        "| design | hello median µs | echo median µs | echo calls/s, 8 threads | the same beside 8 "
        "slow readers | slow / without | server CPU µs/call | throughput / gRPC | echo median / gRPC |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for design, row in best.items():
        versus = ("", "")
        if grpc:
            versus = (
                f"{row['echo_rate'] / float(grpc['thr_rate']):.2f}x",
                f"{row['echo_median'] / float(grpc['echo_med']):.2f}x",
            )
        print(
            f"| {DESIGNS[design]} | {row['hello_median']:.0f} | {row['echo_median']:.0f} | "
            f"{row['echo_rate']:.0f} | {row['slow_rate']:.0f} | {row['slow_ratio']:.2f}x | "
            f"{row['cpu_server_us']:.0f} | {versus[0]} | {versus[1]} |"
        )
    if grpc:
        print(
            f"| gRPC Python generic unary (peers harness, d1) | {float(grpc['hello_med']):.0f} | "
            f"{float(grpc['echo_med']):.0f} | {float(grpc['thr_rate']):.0f} | | | | | |"
        )


if __name__ == "__main__":
    main()
