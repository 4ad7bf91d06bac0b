"""Several instances through the file and etcd registries: selection, SIGKILL failover, new instances."""

from __future__ import annotations

import collections
import json
import signal
import threading
import time
from pathlib import Path

import pytest

from container import ServiceClient, channel_of
from tests.channels.services import WireService

from .processes import ServerProcess, python_module, wait_until


def start_servers(registry: dict, count: int) -> list[ServerProcess]:
    config = json.dumps({"registry": registry})
    return [
        ServerProcess(python_module("tests.e2e.wire_server"), env={"WIRE_CONFIG": config})
        for _ in range(count)
    ]


def client_config(registry: dict, selector: str = "round-robin") -> dict:
    return {"registry": registry, "components": {"wire-component": {"selector": selector, "cooldown": 2.0}}}


@pytest.fixture(params=["file", "etcd"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    """The registry section shared by servers and clients: a file, or a real etcd."""
    if request.param == "file":
        return {"type": "file", "path": str(tmp_path / "registry.json"), "ttl": 5, "poll_interval": 0.05}
    etcd = request.getfixturevalue("etcd")
    return {"type": "etcd", "endpoints": etcd.endpoints, "ttl": 3}


def test_round_robin_reaches_every_instance_first_url_sticks(registry):
    """Round robin spreads calls over all three instances; first-URL stays on one."""
    servers = start_servers(registry, 3)
    try:
        pids = {f"pid {s.process.pid}" for s in servers}
        with ServiceClient(client_config(registry)) as client:
            wire = client.get_service(WireService, "dispatch-msgpack")
            assert wait_until(lambda: len(channel_of(wire).address.urls) == 3)
            assert {wire.whoami() for _ in range(9)} == pids
        with ServiceClient(client_config(registry, "first")) as client:
            wire = client.get_service(WireService, "dispatch-json")
            assert len({wire.whoami() for _ in range(9)}) == 1
        with ServiceClient(client_config(registry, "least-in-flight")) as client:
            wire = client.get_service(WireService, "dispatch-json")
            assert {wire.whoami() for _ in range(9)} <= pids
    finally:
        for server in servers:
            assert server.terminate() == 0, server.output


def test_sigkill_and_new_instance_under_load(registry):
    """4 threads call for seconds while one server is SIGKILLed and another started: no errors."""
    servers = start_servers(registry, 3)
    served: collections.Counter[str] = collections.Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        with ServiceClient(client_config(registry)) as client:
            wire = client.get_service(WireService, "dispatch-msgpack")
            assert wait_until(lambda: len(channel_of(wire).address.urls) == 3)

            def loop() -> None:
                while not stop.is_set():
                    try:
                        answer = wire.whoami()
                    except BaseException as exc:  # collected and asserted below
                        errors.append(exc)
                        return
                    with lock:
                        served[answer] += 1

            threads = [threading.Thread(target=loop) for _ in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            victim = servers[0]
            victim.process.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            time.sleep(1.0)
            newcomer = start_servers(registry, 1)[0]
            servers.append(newcomer)
            assert wait_until(lambda: served[f"pid {newcomer.process.pid}"] > 0, timeout=10)
            time.sleep(1.0)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            # The killed instance leaves the registry view: at once for the file registry (its
            # pid is gone), when its lease expires for etcd.
            channel = channel_of(wire)
            assert wait_until(lambda: len(channel.address.urls) == 3, timeout=15), channel.address.urls
        assert errors == []
        for server in servers:
            assert served[f"pid {server.process.pid}"] > 0, (server.process.pid, served)
    finally:
        stop.set()
        for server in servers[1:]:
            server.terminate()


def test_calls_go_on_while_etcd_restarts(etcd):
    """A client calling in a loop sees no error while etcd stops and starts again; a server
    started after the restart reaches it."""
    registry = {"type": "etcd", "endpoints": etcd.endpoints, "ttl": 5}
    servers = start_servers(registry, 1)
    errors: list[BaseException] = []
    served: collections.Counter[str] = collections.Counter()
    stop = threading.Event()
    try:
        with ServiceClient(client_config(registry)) as client:
            wire = client.get_service(WireService, "dispatch-msgpack")
            assert wire.whoami().startswith("pid "), "the proxy found its server through etcd"

            def loop() -> None:
                while not stop.is_set():
                    try:
                        served[wire.whoami()] += 1
                    except BaseException as exc:  # collected and asserted below
                        errors.append(exc)
                        return

            caller = threading.Thread(target=loop)
            caller.start()
            member = etcd.members[0]
            member.stop()
            before = sum(served.values())
            time.sleep(1.0)
            assert sum(served.values()) > before, "calls went on with etcd down"
            member.start()
            member.wait_healthy()
            newcomer = start_servers(registry, 1)[0]
            servers.append(newcomer)
            assert wait_until(lambda: served[f"pid {newcomer.process.pid}"] > 0, timeout=20), served
            stop.set()
            caller.join(timeout=30)
        assert errors == []
    finally:
        stop.set()
        for server in servers:
            server.terminate()
