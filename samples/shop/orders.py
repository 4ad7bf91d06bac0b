"""The orders process: python -m samples.shop.orders --registry FILE [--channel NAME].

It imports only the inventory's interfaces: its container injects a proxy of the inventory.
"""

from __future__ import annotations

import itertools
import os
import threading

from dependency_injector import containers, providers

from container import (
    AbstractComponent,
    ChannelAddress,
    ServiceContainer,
    ServiceInstanceProvider,
    implementation,
)

from .interfaces import InventoryService, Order, OrdersComponent, OrdersService
from .process import serve


@implementation()
class OrdersServiceImpl(OrdersService):
    """Places orders by reserving stock in the inventory it is given."""

    def __init__(self, inventory: InventoryService) -> None:
        self.inventory = inventory
        self._ids = itertools.count(1)
        self._placed = 0
        self._lock = threading.Lock()

    def place(self, sku: str, quantity: int) -> Order:
        """Reserve the stock, then record the order."""
        with self._lock:
            self._placed += 1
        self.inventory.reserve(sku, quantity)  # OutOfStock passes through to our caller as itself
        return Order(next(self._ids), sku, quantity, f"pid {os.getpid()}")

    def placed(self) -> int:
        """Return how many times ``place`` ran here."""
        with self._lock:
            return self._placed


@implementation()
class OrdersComponentImpl(AbstractComponent, OrdersComponent):
    """Offers the orders on both HTTP channels of this process's server."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Return the HTTP addresses on ``port``."""
        host = os.environ.get("SERVICEWIRE_HOST", "127.0.0.1")
        return [
            ChannelAddress(name, f"http://{host}:{port}") for name in ("dispatch-json", "dispatch-msgpack")
        ]


class OrdersContainer(containers.DeclarativeContainer):
    """The orders process's container: the inventory is injected as a proxy."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    inventory = ServiceInstanceProvider(InventoryService)
    orders = providers.Singleton(OrdersServiceImpl, inventory=inventory)


def main() -> None:
    """Serve the orders until SIGTERM."""
    serve(OrdersContainer(), "shop-orders", __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
