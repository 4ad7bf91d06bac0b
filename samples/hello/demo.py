"""`make demo`: two server processes host the hello component; a client process calls them.

The servers register in a file registry (a temporary file); the client finds both there,
calls over both HTTP channels, and shows round-robin answers from both instances. The servers
are then stopped with SIGTERM (a graceful shutdown that removes their registry entries).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(registry: Path) -> tuple[subprocess.Popen[str], str]:
    """Start a server process and return it with its URL once it serves."""
    server = subprocess.Popen(
        [sys.executable, "-m", "samples.hello.server", "--registry", str(registry)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    deadline = time.monotonic() + 30
    for line in server.stdout:
        match = re.search(r"serving on (http://\S+)", line)
        if match:
            return server, match.group(1)
        if time.monotonic() > deadline:
            break
    server.kill()
    raise SystemExit("demo: a server did not start")


def main() -> int:
    """Run the demo; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="servicewire-demo-") as folder:
        registry = Path(folder) / "registry.json"
        servers = []
        try:
            for _ in range(2):
                server, url = start_server(registry)
                servers.append(server)
                print(f"demo: server pid {server.pid} at {url}")
            client = subprocess.run(
                [sys.executable, "-m", "samples.hello.client", "--registry", str(registry)], check=False
            )
        finally:
            statuses = []
            for server in servers:
                server.send_signal(signal.SIGTERM)
                statuses.append(server.wait(timeout=30))
                if server.stdout is not None:
                    server.stdout.close()
        print(f"demo: servers stopped (exit statuses {statuses})")
    return client.returncode or max(statuses, default=0)


if __name__ == "__main__":
    sys.exit(main())
