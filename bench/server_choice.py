"""Which HTTP server for HttpServer: the candidates serving the same application, in one run.

Run: .venv/bin/python bench/server_choice.py [--rounds 2]

Each candidate serves the bench service's dispatch-msgpack calls (the WSGI application for the
WSGI servers, the dispatcher directly for the embedded engine) in its own process; the client
is servicewire's dispatch-msgpack proxy, the workload and method those of bench/http_bench.py.
Prints hello and echo medians, 8-thread echo throughput and the server's CPU per call (summed
over its process tree), best of the rounds.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import http_bench  # noqa: E402

ENGINES = {
    "engine": "servicewire's engine (httptools, selector + workers)",
    "waitress": "waitress 3 (WSGI, asyncore + threads)",
    "cheroot": "cheroot 11 (WSGI, thread pool)",
    "granian": "granian 2 (WSGI, Rust, 1 worker, 8 blocking threads)",
    "gunicorn": "gunicorn 27 gthread (WSGI, 1 worker, 8 threads)",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", help="comma-separated engines")
    arguments = parser.parse_args()
    engines = arguments.only.split(",") if arguments.only else list(ENGINES)
    best: dict[str, dict[str, float]] = {}
    for _ in range(arguments.rounds):
        for engine in engines:
            os.environ["BENCH_SERVER"] = engine
            row = http_bench.run_case("sw-msgpack")
            kept = best.setdefault(engine, dict(row))
            for key in ("hello_median", "echo_median", "cpu_server_us", "cpu_client_us"):
                kept[key] = min(kept[key], row[key])
            kept["echo_rate"] = max(kept["echo_rate"], row["echo_rate"])
    print(
        "| server | hello median µs | echo median µs | echo calls/s, 8 threads | server CPU µs/call | client CPU µs/call |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for engine, row in best.items():
        print(
            f"| {ENGINES[engine]} | {row['hello_median']:.0f} | {row['echo_median']:.0f} | "
            f"{row['echo_rate']:.0f} | {row['cpu_server_us']:.0f} | {row['cpu_client_us']:.0f} |"
        )


if __name__ == "__main__":
    main()
