"""The shop's client: python -m samples.shop.client --registry FILE [--channel NAME].

It imports only the interfaces; ``connect`` builds the rest from the registry section.
"""

from __future__ import annotations

import argparse

from container import ServiceClient

from . import telemetry
from .interfaces import InventoryService, OrdersService, OutOfStock


def main() -> None:
    """Place an order, then one too many, and show what each service answered."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True, help="file registry path")
    parser.add_argument("--channel", default="dispatch-msgpack", help="channel to call with")
    telemetry.add_arguments(parser)
    arguments = parser.parse_args()
    if arguments.trace:
        telemetry.export_spans("shop-client", arguments.trace)
    config = {
        "registry": {"type": "file", "path": arguments.registry},
        **telemetry.observability_config(arguments),
    }
    with ServiceClient(config) as client:
        orders = client.get_service(OrdersService, arguments.channel)
        inventory = client.get_service(InventoryService, arguments.channel)
        order = orders.place("book", 3)
        print(f"order {order.id}: {order.quantity} x {order.sku} ({order.served_by})")
        print(f"book in stock: {inventory.stock('book')}")
        try:
            orders.place("book", 50)
        except OutOfStock as refused:
            print(f"refused through orders: {refused} (sku={refused.sku}, available={refused.available})")
        try:
            inventory.reserve("book", 99)
        except OutOfStock as refused:
            print(f"refused by inventory: requested {refused.requested}, available {refused.available}")


if __name__ == "__main__":
    main()
