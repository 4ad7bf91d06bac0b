"""`make demo`: a server process hosts the hello component, a client process calls it.

The demo starts ``samples.hello.server`` on a free port, runs ``samples.hello.client`` against
it in a second process, then stops the server with SIGTERM (a graceful shutdown).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time


def start_server() -> tuple[subprocess.Popen[str], str]:
    """Start the server process and return it with its URL once it serves."""
    server = subprocess.Popen(
        [sys.executable, "-m", "samples.hello.server"],
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
    raise SystemExit("demo: the server did not start")


def main() -> int:
    """Run the two-process demo; returns the exit status."""
    server, url = start_server()
    print(f"demo: server pid {server.pid} at {url}")
    try:
        client = subprocess.run([sys.executable, "-m", "samples.hello.client", url], check=False)
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
    print(f"demo: server stopped (exit status {status})")
    return client.returncode or status


if __name__ == "__main__":
    sys.exit(main())
