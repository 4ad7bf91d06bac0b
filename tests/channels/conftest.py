"""A real HttpServer on 127.0.0.1 hosting the wire-test component, shared by a module.

The client tests run over both client transports of the HTTP channels: ``transport`` is
``"pool"`` (the default) or ``"requests"`` (``http.client: requests``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import ServiceContainer, ServiceInstanceProvider, ServiceManager

from .services import WireService, WireServiceImpl


class ServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    wire_impl = providers.Singleton(WireServiceImpl)
    wire_service = ServiceInstanceProvider(WireService)


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    """An HttpServer on a free port; shut down after the module."""
    http = HttpServer(host="127.0.0.1", port=0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, "http": {"max_body_size": 64 * 1024}})
    http.boot(container)
    yield http
    http.shutdown()


@pytest.fixture(scope="module")
def open_report_url() -> Iterator[str]:
    """An HttpServer whose /report is open to anyone (auth.expose.report: open)."""
    http = HttpServer(host="127.0.0.1", port=0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}, "auth": {"expose": {"report": "open"}}})
    http.boot(container)
    yield f"http://127.0.0.1:{http.port}"
    http.shutdown()


@pytest.fixture(scope="module")
def base_url(server: HttpServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def implementation(server: HttpServer) -> WireServiceImpl:
    assert server.manager is not None
    return server.manager.get_instance(WireServiceImpl)


TRANSPORTS = ["pool", "requests"]
"""The client transports of the HTTP channels (``http.client``)."""


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each client transport in turn: the test id says which (``[pool]``, ``[requests]``)."""
    return str(request.param)


def with_transport(config: dict[str, Any], transport: str) -> dict[str, Any]:
    """Return ``config`` with ``http.client`` set to ``transport`` (other ``http`` keys kept)."""
    http = dict(config.get("http") or {})
    http.setdefault("client", transport)
    return {**config, "http": http}


def client_manager(base_url: str, transport: str = "pool", **extra: Any) -> ServiceManager:
    """A separate client-side ServiceManager whose static registry points at the server."""
    config = {
        "registry": {
            "type": "static",
            "components": {"wire-component": {"dispatch-json": [base_url], "dispatch-msgpack": [base_url]}},
        },
        **extra,
    }
    return ServiceContainer(config=providers.Object(with_transport(config, transport))).service_manager()
