"""A shop process for the end-to-end tests: ``python -m tests.e2e.shop_server orders|inventory``.

The configuration comes from ``$SHOP_CONFIG`` (JSON), the channel of the process's own calls
from ``$SHOP_CHANNEL``; log records go to stderr as ``LEVEL logger message`` lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from channels.http import HttpServer
from samples.shop.inventory import InventoryContainer
from samples.shop.orders import OrdersContainer


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    container = OrdersContainer() if sys.argv[1] == "orders" else InventoryContainer()
    container.config.from_dict(json.loads(os.environ["SHOP_CONFIG"]))
    container.services.service_manager().set_preferred_channel(os.environ.get("SHOP_CHANNEL", ""))
    HttpServer().serve_forever(container)


if __name__ == "__main__":
    main()
