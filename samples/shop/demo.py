"""The shop in three processes: python -m samples.shop.demo [--observe].

Starts the inventory and the orders processes (found through a file registry in a temporary
folder), runs the client, then stops both servers with SIGTERM. With ``--observe`` every
process traces its calls (OpenTelemetry's console exporter, into a file per process) and
counts them (Prometheus); the demo then prints each trace as a tree across the three processes
and what the orders process's ``/metrics`` says, read with prometheus-client's parser.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def start(module: str, registry: Path, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start a server process; return it and its URL once it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--registry", str(registry), *extra], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        found = re.search(r"serving on (http://\S+)", line)
        if found:
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit(f"demo: {module} did not start")


def print_traces(folder: Path) -> None:
    """Print every span of the three processes, grouped by trace, children under parents."""
    spans = [
        json.loads(line) for path in sorted(folder.glob("*.spans")) for line in path.read_text().splitlines()
    ]
    children: dict[Any, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)

    def show(span: dict[str, Any], depth: int) -> None:
        status = span["status"]["status_code"]
        error = f" {span['attributes'].get('error.type')}" if status == "ERROR" else ""
        service = span["resource"]["attributes"]["service.name"]
        kind = span["kind"].rpartition(".")[2].lower()
        print(f"{'  ' * depth}{kind:6} {span['name']:18} in {service:15} {status}{error}")
        for child in sorted(children.get(span["context"]["span_id"], []), key=lambda s: s["start_time"]):
            show(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s["start_time"]):
        print(f"trace {root['context']['trace_id'][2:]}")
        show(root, 1)


def print_metrics(url: str) -> None:
    """Print the orders process's call counts, as Prometheus would scrape them."""
    from prometheus_client.parser import text_string_to_metric_families

    if not url.startswith("http://"):
        raise ValueError(f"not the orders' HTTP URL: {url!r}")
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:  # noqa: S310 - checked above
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "servicewire_calls":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    print(
                        f"orders /metrics: {labels['side']:6} {labels['service']}.{labels['method']:8} "
                        f"{labels['outcome']:5} {sample.value:.0f}"
                    )


def main() -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observe", action="store_true", help="trace and count the calls, then show them")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="servicewire-shop-") as folder:
        registry = Path(folder) / "registry.json"

        def observe(name: str) -> list[str]:
            return ["--trace", str(Path(folder) / f"{name}.spans"), "--metrics"] if arguments.observe else []

        servers = [
            start("samples.shop.inventory", registry, observe("inventory")),
            start("samples.shop.orders", registry, observe("orders")),
        ]
        try:
            client = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "samples.shop.client",
                    "--registry",
                    str(registry),
                    *observe("client"),
                ],
                check=False,
            )
            if arguments.observe and client.returncode == 0:
                print()
                print_traces(Path(folder))
                print()
                print_metrics(servers[1][1])
        finally:
            for server, _url in servers:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
                if server.stdout is not None:
                    server.stdout.close()
    return client.returncode


if __name__ == "__main__":
    sys.exit(main())
