"""A real HttpServer on 127.0.0.1 hosting the wire-test component, shared by a module.

The client tests run over every client of the HTTP channels: ``transport`` is ``"pool"`` (the
default), ``"requests"`` (``http.client: requests``) or ``"asyncio"`` (the pool's asyncio side:
the same cases through ``async def`` methods, awaited; see :func:`wire`). A test that applies to
the sync clients only says so with ``@pytest.mark.parametrize("transport", SYNC_TRANSPORTS)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import ServiceContainer, ServiceInstanceProvider, ServiceManager

from .async_services import AsyncWireService, AsyncWireServiceImpl, Awaited
from .services import WireService, WireServiceImpl


class ServerContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    wire_impl = providers.Singleton(WireServiceImpl)
    async_wire_impl = providers.Singleton(AsyncWireServiceImpl)
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


SYNC_TRANSPORTS = ["pool", "requests"]
"""The client transports of the HTTP channels (``http.client``), for ``def`` methods."""

TRANSPORTS = [*SYNC_TRANSPORTS, "asyncio"]
"""Every client: the two transports, and the pool's asyncio side for ``async def`` methods."""


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each client in turn: the test id says which (``[pool]``, ``[requests]``, ``[asyncio]``)."""
    return str(request.param)


def with_transport(config: dict[str, Any], transport: str) -> dict[str, Any]:
    """Return ``config`` with ``http.client`` set for ``transport`` (other ``http`` keys kept).

    ``"asyncio"`` is the pool (``http.client: pool``) called from an event loop.
    """
    http = dict(config.get("http") or {})
    http.setdefault("client", "pool" if transport == "asyncio" else transport)
    return {**config, "http": http}


def wire(manager: ServiceManager, transport: str, channel: str = "dispatch-msgpack") -> Any:
    """A proxy of wire-test, or for ``"asyncio"`` of its async mirror, called as a sync proxy.

    async-wire (tests/channels/async_services.py) has wire-test's methods as ``async def``;
    :class:`Awaited` runs each call to its end in ``asyncio.run`` (a loop, so a connection, per
    call), with the caller's context (call options) copied into the task.
    """
    if transport == "asyncio":
        return Awaited(manager.get_service(AsyncWireService, channel))
    return manager.get_service(WireService, channel)


def wire_names(transport: str) -> tuple[str, str]:
    """The component and service names :func:`wire` calls for ``transport``."""
    return (
        ("async-wire-component", "async-wire") if transport == "asyncio" else ("wire-component", "wire-test")
    )


def client_manager(base_url: str, transport: str = "pool", **extra: Any) -> ServiceManager:
    """A separate client-side ServiceManager whose static registry points at the server."""
    config = {
        "registry": {
            "type": "static",
            "components": {
                name: {"dispatch-json": [base_url], "dispatch-msgpack": [base_url]}
                for name in ("wire-component", "async-wire-component")
            },
        },
        **extra,
    }
    return ServiceContainer(config=providers.Object(with_transport(config, transport))).service_manager()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA and a server certificate for 127.0.0.1: ``ca.pem``, ``server.pem``, ``server.key`` paths."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    paths = {name: str(folder / name) for name in ("ca.pem", "server.pem", "server.key")}
    ca.cert_pem.write_to_path(paths["ca.pem"])
    issued.cert_chain_pems[0].write_to_path(paths["server.pem"])
    issued.private_key_pem.write_to_path(paths["server.key"])
    return paths
