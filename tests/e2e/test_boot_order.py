"""Services boot in any order: injecting a remote service never touches the registry."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from container import ServiceClient, call_options
from samples.shop.interfaces import OrdersService

from .mutual import PingService
from .processes import ServerProcess, python_module


def client(registry: Path) -> ServiceClient:
    return ServiceClient({"registry": {"type": "file", "path": str(registry), "poll_interval": 0.05}})


def test_orders_boots_before_inventory_and_its_first_call_waits_for_it(tmp_path: Path):
    """Orders boots with no inventory anywhere; a call made before inventory starts completes."""
    registry = tmp_path / "registry.json"
    orders = ServerProcess(python_module("samples.shop.orders", "--registry", str(registry)))
    inventory = None
    outcome: dict[str, object] = {}
    try:
        with client(registry) as shop:
            proxy = shop.get_service(OrdersService, "dispatch-msgpack")

            def place() -> None:
                with call_options(timeout=20):
                    outcome["order"] = proxy.place("lamp", 2)

            caller = threading.Thread(target=place)
            caller.start()
            time.sleep(1.0)
            assert caller.is_alive(), "orders is waiting for an inventory to appear"
            inventory = ServerProcess(python_module("samples.shop.inventory", "--registry", str(registry)))
            caller.join(timeout=30)
        assert getattr(outcome.get("order"), "sku", None) == "lamp"
    finally:
        for server in (orders, inventory):
            if server is not None:
                server.terminate()


@pytest.mark.parametrize("first", ["ping", "pong"])
def test_two_services_that_call_each_other_boot_in_either_order(tmp_path: Path, first: str):
    """Each one's container injects the other before it exists; both boot, then they play."""
    registry = tmp_path / "registry.json"
    second = "pong" if first == "ping" else "ping"
    servers = [
        ServerProcess(python_module("tests.e2e.mutual", name, str(registry))) for name in (first, second)
    ]
    try:
        with client(registry) as players:
            rounds = players.get_service(PingService, "dispatch-msgpack").ping(4)
        pids = {name: f"{server.process.pid}" for name, server in zip((first, second), servers, strict=True)}
        assert rounds == [
            f"ping {pids['ping']}",
            f"pong {pids['pong']}",
            f"ping {pids['ping']}",
            f"pong {pids['pong']}",
        ]
    finally:
        for server in servers:
            server.terminate()
