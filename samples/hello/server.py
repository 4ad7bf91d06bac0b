"""Hosts the hello component over HTTP until SIGINT or SIGTERM.

Run: python -m samples.hello.server [--port 8000]
It prints ``servicewire: serving on http://127.0.0.1:PORT`` once it accepts calls.
"""

from __future__ import annotations

import argparse

from channels.http import HttpServer

from . import implementation  # noqa: F401 - hosting: registers the implementation
from .containers import MainContainer


def main() -> None:
    """Serve the hello component with a static registry (the client knows the URL)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    container = MainContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    HttpServer(host="127.0.0.1", port=arguments.port).serve_forever(container)


if __name__ == "__main__":
    main()
