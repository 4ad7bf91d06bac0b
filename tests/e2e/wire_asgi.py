"""The ASGI application hosting wire-component and async-wire-component, for uvicorn and granian.

Configured from ``$WIRE_CONFIG`` (JSON) and served on ``$WIRE_PORT`` (what the components
advertise)::

    WIRE_PORT=8000 uvicorn --host 127.0.0.1 --port 8000 tests.e2e.wire_asgi:app
"""

from __future__ import annotations

import json
import os

from dependency_injector import containers, providers

from channels.http.asgi import create_app
from container import ServiceContainer
from tests.channels.async_services import AsyncWireServiceImpl
from tests.channels.services import WireServiceImpl


class AsgiContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    wire = providers.Singleton(WireServiceImpl)
    async_wire = providers.Singleton(AsyncWireServiceImpl)


def from_environment() -> AsgiContainer:
    container = AsgiContainer()
    container.config.from_dict(json.loads(os.environ.get("WIRE_CONFIG", '{"registry": {"type": "static"}}')))
    return container


if "WIRE_PORT" in os.environ:  # the server process (the tests import the container only)
    app = create_app(from_environment, port=int(os.environ["WIRE_PORT"]))
