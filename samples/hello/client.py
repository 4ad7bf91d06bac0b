"""Calls the hello service in another process over both HTTP channels.

Run: python -m samples.hello.client http://127.0.0.1:PORT
A plain script: it imports only the interface, and `connect` builds everything else.
"""

from __future__ import annotations

import sys

from container import connect

from .interface import HelloService


def main(url: str) -> None:
    """Greet through dispatch-json and dispatch-msgpack."""
    config = {
        "registry": {
            "type": "static",
            "components": {"hello-component": {"dispatch-json": [url], "dispatch-msgpack": [url]}},
        }
    }
    for channel in ("dispatch-json", "dispatch-msgpack"):
        hello = connect(HelloService, config, preferred_channel=channel)
        greeting = hello.greet("servicewire")
        print(f"{channel}: {hello.hello('world')} / {greeting.text} ({greeting.served_by})")


if __name__ == "__main__":
    main(sys.argv[1])
