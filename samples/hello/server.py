"""Hosts the hello component over HTTP until SIGINT or SIGTERM.

Run: python -m samples.hello.server [--port 8000] [--registry /path/to/registry.json]
With ``--registry`` the instance registers itself in that file registry (so several
instances can be found by clients); without it, a static registry is used and clients must know
the URL. It prints ``servicewire: serving on http://127.0.0.1:PORT`` once it accepts calls.
"""

from __future__ import annotations

import argparse

from channels.http import HttpServer

from .hosting import MainContainer


def main() -> None:
    """Serve the hello component."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--registry", help="file registry path")
    arguments = parser.parse_args()
    registry = {"type": "file", "path": arguments.registry} if arguments.registry else {"type": "static"}
    container = MainContainer()
    container.config.from_dict({"registry": registry})
    HttpServer(host="127.0.0.1", port=arguments.port).serve_forever(container)


if __name__ == "__main__":
    main()
