"""A component for the command-line tests: typed methods, an application error, a health switch.

``OPS_HEALTH_FILE`` names a file whose content (``OK``, ``WARNING``, ``ERROR``) is the
process's health: a test changes one instance's health by writing its file. ``OPS_NAP_FILE``
names a file that ``nap`` writes as it starts (a test waits for it); with ``OPS_HANG_ON_STOP``
set, the component's ``shutdown()`` never returns.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from abc import abstractmethod
from pathlib import Path

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    HealthStatus,
    Service,
    ServiceContainer,
    ServiceException,
    call_context,
    component,
    health_check,
    health_checks,
    implementation,
    service,
)


@dataclasses.dataclass
class Item:
    """What is ordered."""

    sku: str
    quantity: int


@dataclasses.dataclass
class Receipt:
    """What an order returns."""

    sku: str
    quantity: int
    served_by: int


class OpsRefused(ServiceException):
    """The application refused (an application exception)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"refused: {reason}")
        self.reason = reason


@service(name="ops-service", description="operations for the command-line tests")
class OpsService(Service):
    """Typed methods of every kind the command line deals with."""

    @abstractmethod
    def add(self, a: int, b: int) -> int:
        """Return a + b."""

    @abstractmethod
    def order(self, item: Item) -> Receipt:
        """Place an order."""

    @abstractmethod
    def refuse(self, reason: str) -> None:
        """Always raise OpsRefused."""

    @abstractmethod
    def metadata(self, key: str) -> str:
        """Return the metadata value the caller sent under ``key``."""

    @abstractmethod
    def whoami(self) -> str:
        """Return the caller's subject ("" when anonymous)."""

    @abstractmethod
    def nap(self, seconds: float) -> None:
        """Sleep."""


@component(name="ops-component", services=[OpsService])
class OpsComponent(Component):
    """Hosts OpsService."""


@implementation()
class OpsServiceImpl(OpsService):
    def add(self, a: int, b: int) -> int:
        return a + b

    def order(self, item: Item) -> Receipt:
        return Receipt(item.sku, item.quantity, os.getpid())

    def refuse(self, reason: str) -> None:
        raise OpsRefused(reason)

    def metadata(self, key: str) -> str:
        return call_context().metadata.get(key, "")

    def whoami(self) -> str:
        identity = call_context().identity
        return identity.subject if identity is not None else ""

    def nap(self, seconds: float) -> None:
        marker = os.environ.get("OPS_NAP_FILE")
        if marker:
            Path(marker).write_text("napping")
        time.sleep(seconds)


@implementation()
class OpsComponentImpl(AbstractComponent, OpsComponent):
    def shutdown(self) -> None:
        if os.environ.get("OPS_HANG_ON_STOP"):
            threading.Event().wait()  # a component whose shutdown hangs
        super().shutdown()

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        scheme = os.environ.get("OPS_SCHEME", "http")
        return [
            ChannelAddress("dispatch-json", f"{scheme}://127.0.0.1:{port}"),
            ChannelAddress("dispatch-msgpack", f"{scheme}://127.0.0.1:{port}"),
        ]


@health_checks(component=OpsComponent)
class HealthSwitch:
    """The process's health is what its OPS_HEALTH_FILE says."""

    @health_check(name="switch")
    def switch(self):
        path = os.environ.get("OPS_HEALTH_FILE")
        text = Path(path).read_text().strip() if path and Path(path).exists() else "OK"
        if text == "OK":
            return None
        return HealthStatus[text], f"switched to {text}"


class MainContainer(containers.DeclarativeContainer):
    """Hosts the ops component."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    ops = providers.Singleton(OpsServiceImpl)
    ops_component = providers.Singleton(OpsComponentImpl)


SETUP_LOG = "OPS_SETUP_LOG"


def setup(config) -> None:
    """A --setup function: records that it ran, and what the config's registry type was."""
    Path(os.environ[SETUP_LOG]).write_text(f"setup ran before boot; registry {config['registry']['type']}\n")


def failing_setup() -> None:
    """A --setup function that fails."""
    raise RuntimeError("no collector configured")
