"""What callers import: the shop's service interfaces, value types and errors."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod

from container import Component, Service, ServiceException, component, idempotent, service


class OutOfStock(ServiceException):
    """Not enough of an item: part of the inventory interface, so it crosses the wire as itself.

    Attributes:
        sku: the item.
        requested: how many were asked for.
        available: how many there are.
    """

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"{sku}: {requested} requested, {available} available")
        self.sku = sku
        self.requested = requested
        self.available = available


@dataclasses.dataclass
class Order:
    """A placed order."""

    id: int
    sku: str
    quantity: int
    served_by: str


@service(name="inventory")
class InventoryService(Service):
    """Stock levels."""

    @idempotent
    @abstractmethod
    def stock(self, sku: str) -> int:
        """Return how many of ``sku`` are in stock."""

    @abstractmethod
    def reserve(self, sku: str, quantity: int) -> int:
        """Take ``quantity`` of ``sku`` out of stock; return what is left.

        Raises:
            OutOfStock: fewer than ``quantity`` are in stock.
        """


@service(name="orders")
class OrdersService(Service):
    """Orders, which reserve stock in the inventory."""

    @abstractmethod
    def place(self, sku: str, quantity: int) -> Order:
        """Reserve the stock and record an order.

        Raises:
            OutOfStock: the inventory has too few.
        """

    @idempotent
    @abstractmethod
    def placed(self) -> int:
        """Return how many times ``place`` ran in this instance (successful or not)."""


@component(name="inventory-component", services=[InventoryService])
class InventoryComponent(Component):
    """Hosts the inventory."""


@component(name="orders-component", services=[OrdersService])
class OrdersComponent(Component):
    """Hosts the orders."""
