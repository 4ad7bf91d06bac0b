"""A server process hosting the wire-test component (used by the end-to-end tests)."""

from __future__ import annotations

import json
import os
import sys

from dependency_injector import containers, providers

from channels.http import HttpServer
from container import ServiceContainer
from tests.channels.services import WireServiceImpl


class WireServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    wire = providers.Singleton(WireServiceImpl)


def from_environment() -> WireServerContainer:
    """The container configured from $WIRE_CONFIG (for servers started by tests, gunicorn too)."""
    container = WireServerContainer()
    container.config.from_dict(json.loads(os.environ.get("WIRE_CONFIG", '{"registry": {"type": "static"}}')))
    return container


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    HttpServer(host="127.0.0.1", port=port).serve_forever(from_environment())
