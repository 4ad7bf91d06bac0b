"""The shop in three processes: python -m samples.shop.demo.

Starts the inventory and the orders processes (found through a file registry in a temporary
folder), runs the client, then stops both servers with SIGTERM.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start(module: str, registry: Path) -> subprocess.Popen[str]:
    """Start a server process and return it once it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--registry", str(registry)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if re.search(r"serving on http://", line):
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise SystemExit(f"demo: {module} did not start")


def main() -> int:
    """Run the demo; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="servicewire-shop-") as folder:
        registry = Path(folder) / "registry.json"
        servers = [start("samples.shop.inventory", registry), start("samples.shop.orders", registry)]
        try:
            client = subprocess.run(
                [sys.executable, "-m", "samples.shop.client", "--registry", str(registry)], check=False
            )
        finally:
            for server in servers:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
                if server.stdout is not None:
                    server.stdout.close()
    return client.returncode


if __name__ == "__main__":
    sys.exit(main())
