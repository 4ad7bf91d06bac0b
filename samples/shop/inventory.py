"""The inventory process: python -m samples.shop.inventory --registry FILE [--channel NAME]."""

from __future__ import annotations

import os
import threading

from dependency_injector import containers, providers

from container import AbstractComponent, ChannelAddress, ServiceContainer, implementation

from .interfaces import InventoryComponent, InventoryService, OutOfStock
from .process import serve


@implementation()
class InventoryServiceImpl(InventoryService):
    """Stock kept in memory, starting with ten of everything."""

    def __init__(self) -> None:
        self._stock: dict[str, int] = {}
        self._lock = threading.Lock()

    def stock(self, sku: str) -> int:
        """Return how many of ``sku`` are in stock."""
        with self._lock:
            return self._stock.setdefault(sku, 10)

    def reserve(self, sku: str, quantity: int) -> int:
        """Take ``quantity`` of ``sku`` out of stock; OutOfStock when there are too few."""
        with self._lock:
            available = self._stock.setdefault(sku, 10)
            if quantity > available:
                raise OutOfStock(sku, quantity, available)
            self._stock[sku] = available - quantity
            return self._stock[sku]


@implementation()
class InventoryComponentImpl(AbstractComponent, InventoryComponent):
    """Offers the inventory on both HTTP channels of this process's server."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        """Return the HTTP addresses on ``port``."""
        host = os.environ.get("SERVICEWIRE_HOST", "127.0.0.1")
        return [
            ChannelAddress(name, f"http://{host}:{port}") for name in ("dispatch-json", "dispatch-msgpack")
        ]


class InventoryContainer(containers.DeclarativeContainer):
    """The inventory process's container."""

    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    inventory = providers.Singleton(InventoryServiceImpl)


def main() -> None:
    """Serve the inventory until SIGTERM."""
    serve(InventoryContainer(), "shop-inventory", __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
