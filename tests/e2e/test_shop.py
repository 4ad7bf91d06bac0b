"""The shop in real processes (client -> orders -> inventory, file registry), for both HTTP codecs.

Application exceptions keep their type and fields over one hop and two; a downstream outage
reaches the client as the orders' remote failure, never as the client's own communication
failure; and a call that reached an orders instance runs once, whatever happened further down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from container import (
    RemoteServiceException,
    ServiceClient,
    ServiceCommunicationException,
    channel_of,
)
from samples.shop.interfaces import InventoryService, OrdersService, OutOfStock

from .processes import ServerProcess, python_module, wait_until

CODECS = ["dispatch-json", "dispatch-msgpack"]


class Shop:
    """One inventory and two orders instances, each its own process, sharing a file registry."""

    def __init__(self, registry: Path, channel: str) -> None:
        self.registry = registry
        self.channel = channel
        args = ["--registry", str(registry), "--channel", channel]
        self.inventory = ServerProcess(python_module("samples.shop.inventory", *args))
        self.orders = [ServerProcess(python_module("samples.shop.orders", *args)) for _ in range(2)]

    def client(self) -> ServiceClient:
        return ServiceClient(
            {
                "registry": {"type": "file", "path": str(self.registry), "poll_interval": 0.05},
                "components": {"orders-component": {"selector": "round-robin"}},
            }
        )

    def placed_by_each_orders_instance(self) -> list[int]:
        counts = []
        for server in self.orders:
            config = {
                "registry": {
                    "type": "static",
                    "components": {"orders-component": {self.channel: [server.url]}},
                }
            }
            with ServiceClient(config) as direct:
                counts.append(direct.get_service(OrdersService, self.channel).placed())
        return counts

    def stop(self) -> None:
        for server in [self.inventory, *self.orders]:
            if server.process.poll() is None:
                server.terminate()


@pytest.fixture(params=CODECS)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    """The three services, calling each other over one HTTP codec."""
    running = Shop(tmp_path / "registry.json", request.param)
    try:
        yield running
    finally:
        running.stop()


def test_application_exception_keeps_type_and_fields_over_one_and_two_hops(shop: Shop):
    """OutOfStock raised by the inventory arrives as itself, directly and through the orders."""
    with shop.client() as client:
        orders = client.get_service(OrdersService, shop.channel)
        inventory = client.get_service(InventoryService, shop.channel)
        assert wait_until(lambda: len(channel_of(orders).address.urls) == 2)
        assert orders.place("pen", 4).quantity == 4
        with pytest.raises(OutOfStock) as direct:
            inventory.reserve("pen", 7)
        with pytest.raises(OutOfStock) as through_orders:
            orders.place("pen", 8)
    for refused, requested in ((direct.value, 7), (through_orders.value, 8)):
        assert type(refused) is OutOfStock
        assert (refused.sku, refused.requested, refused.available) == ("pen", requested, 6)
        assert str(refused) == f"pen: {requested} requested, 6 available"
        assert refused.args == (f"pen: {requested} requested, 6 available",)


def test_downstream_outage_is_the_servers_failure_and_runs_at_most_once(shop: Shop):
    """With the inventory gone, each order call fails as a RemoteServiceException and ran once."""
    with shop.client() as client:
        orders = client.get_service(OrdersService, shop.channel)
        assert wait_until(lambda: len(channel_of(orders).address.urls) == 2)
        served_by = {orders.place("cup", 1).served_by for _ in range(2)}
        assert len(served_by) == 2, "both orders instances found the inventory"
        shop.inventory.terminate()
        failures = []
        for _ in range(6):
            with pytest.raises(RemoteServiceException) as info:
                orders.place("cup", 1)
            failures.append(info.value)
    for failure in failures:
        assert not isinstance(failure, ServiceCommunicationException)
        assert failure.remote_type in (
            "container.ServiceUnavailableException",
            "container.NoAddressException",
        )
        assert failure.path == "orders-component/orders/place"
    assert sum(shop.placed_by_each_orders_instance()) == 8, "each call reached one orders instance, once"
