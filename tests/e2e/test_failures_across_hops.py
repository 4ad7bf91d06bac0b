"""Failures two hops away keep their meaning: three real processes, both HTTP codecs.

client (this process) -> two orders processes -> one inventory process, which is dead: first
stopped (it accepts connections and never answers, so the orders' call to it runs out of its
per-method deadline of 0.5 s), then killed (its port refuses connections). The client receives
a RemoteServiceException whose status and remote_type say what happened two hops away, with
servicewire's message; it never takes the orders' failure for its own, so a non-idempotent
call is never sent to the other orders instance; and each orders process logs each failure
once, at WARNING, without a traceback.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from container import RemoteServiceException, ServiceClient, ServiceCommunicationException
from samples.shop.interfaces import OrdersService

from .processes import ServerProcess, python_module, wait_until

CODECS = ["dispatch-json", "dispatch-msgpack"]
CALLS = 4


class Shop:
    """One inventory and two orders processes; the orders know the inventory by a static registry."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.inventory = self._start("inventory", {"registry": {"type": "static"}})
        orders_config = {
            "registry": {
                "type": "static",
                "components": {"inventory-component": {channel: [self.inventory.url]}},
            },
            "components": {"inventory-component": {"methods": {"inventory.reserve": {"timeout": 0.5}}}},
        }
        self.orders = [self._start("orders", orders_config) for _ in range(2)]

    def _start(self, which: str, config: dict[str, Any]) -> ServerProcess:
        env = {"SHOP_CONFIG": json.dumps(config), "SHOP_CHANNEL": self.channel}
        return ServerProcess(python_module("tests.e2e.shop_server", which), env=env)

    def client(self) -> ServiceClient:
        urls = [server.url for server in self.orders]
        return ServiceClient(
            {
                "registry": {"type": "static", "components": {"orders-component": {self.channel: urls}}},
                "components": {"orders-component": {"selector": "round-robin"}},
            }
        )

    def placed(self, client: ServiceClient) -> int:
        """How many times ``place`` ran, over both orders instances (``placed`` is idempotent)."""
        proxy = client.get_service(OrdersService, self.channel)
        return sum(proxy.placed() for _ in range(2))  # round robin: once each

    def stop(self) -> None:
        self.inventory.kill()  # stopped or dead: nothing to shut down gracefully
        for server in self.orders:
            if server.process.poll() is None:
                try:
                    server.terminate(timeout=15)
                except subprocess.TimeoutExpired:  # never leave a process behind
                    server.kill()


@pytest.fixture(params=CODECS)
def shop(request: pytest.FixtureRequest) -> Iterator[Shop]:
    running = Shop(request.param)
    try:
        yield running
    finally:
        running.stop()


def failures_of(shop: Shop) -> list[RemoteServiceException]:
    found = []
    with shop.client() as client:
        orders = client.get_service(OrdersService, shop.channel)
        for _ in range(CALLS):
            with pytest.raises(RemoteServiceException) as info:
                orders.place("pen", 1)
            found.append(info.value)
        assert shop.placed(client) == CALLS, "each call ran on one orders instance, once: no failover"
    return found


def relayed_lines(shop: Shop) -> list[str]:
    # a server logs the relayed failure as it answers; its output is read by another thread
    wait_until(
        lambda: (
            sum(server.output.count("failed because a call it made failed") for server in shop.orders)
            >= CALLS
        ),
        timeout=15,
    )
    lines = []
    for server in shop.orders:
        output = server.output
        assert "Traceback" not in output and "ERROR" not in output, output
        lines += [line for line in output.splitlines() if "failed because a call it made failed" in line]
    return lines


def test_a_deadline_two_hops_away_is_a_504_relayed_with_its_message(shop: Shop):
    """The stopped inventory never answers: each order fails in 0.5 s as the orders' dependency timeout."""
    shop.inventory.process.send_signal(signal.SIGSTOP)
    for failure in failures_of(shop):
        assert not isinstance(failure, ServiceCommunicationException)
        assert (failure.status, failure.kind) == (504, "dependency")
        assert failure.remote_type == "container.ServiceTimeoutException"
        assert re.match(
            r"deadline of 0\.5s expired calling http://127\.0\.0\.1:\d+/invoke/", failure.remote_message
        )
        assert failure.path == "orders-component/orders/place" and failure.error_id
    lines = relayed_lines(shop)
    assert len(lines) == CALLS, "logged once per call"
    assert all(line.startswith("WARNING servicewire.server orders-component/orders/place") for line in lines)


def test_an_unreachable_instance_two_hops_away_is_a_503_relayed_with_its_message(shop: Shop):
    """The killed inventory refuses connections: each order fails as the orders' dependency outage."""
    shop.inventory.process.kill()
    shop.inventory.wait()
    for failure in failures_of(shop):
        assert not isinstance(failure, ServiceCommunicationException)
        assert (failure.status, failure.kind) == (503, "dependency")
        assert failure.remote_type == "container.ServiceUnavailableException"
        assert failure.remote_message.startswith("cannot reach http://127.0.0.1:")
    assert len(relayed_lines(shop)) == CALLS
