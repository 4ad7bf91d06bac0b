"""Calls the hello service in other processes over both HTTP channels.

Run: python -m samples.hello.client --registry /path/to/registry.json
 or: python -m samples.hello.client --url http://127.0.0.1:PORT
A plain script: it imports only the interface, and ``connect`` builds everything else.
"""

from __future__ import annotations

import argparse
from typing import Any

from container import connect

from .interface import HelloService


def main() -> None:
    """Greet through dispatch-json and dispatch-msgpack, then show round robin."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--registry", help="file registry path")
    where.add_argument("--url", help="base URL of one server (static registry)")
    arguments = parser.parse_args()
    registry: dict[str, Any]
    if arguments.registry:
        registry = {"type": "file", "path": arguments.registry}
    else:
        urls = [arguments.url]
        registry = {
            "type": "static",
            "components": {"hello-component": {"dispatch-json": urls, "dispatch-msgpack": urls}},
        }
    config = {"registry": registry, "components": {"hello-component": {"selector": "round-robin"}}}
    for channel in ("dispatch-json", "dispatch-msgpack"):
        hello = connect(HelloService, config, preferred_channel=channel)
        greeting = hello.greet("servicewire")
        print(f"{channel}: {hello.hello('world')} / {greeting.text} ({greeting.served_by})")
    answers = [hello.greet("round robin").served_by for _ in range(6)]
    print("round robin: " + ", ".join(answers))


if __name__ == "__main__":
    main()
