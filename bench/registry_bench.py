"""Registry timings: registration to use, SIGKILL to avoidance, and the call-path cost.

Run: .venv/bin/python bench/registry_bench.py

1. A running client's channel watches the registry; another registry object registers a new
   instance. Time until the channel's URL list has it (20 trials; default poll interval 0.1 s).
2. Two real server processes and a client calling in a loop; one server is SIGKILLed. Time until
   the client's URL list drops it, and how many calls had to fail over meanwhile.
3. The cost per call of the registry on the call path: how often the calling thread touches the
   registry file (stat or read) during 2000 calls, and the cost of one stat-checked look-up.
4. etcd (when an etcd binary is installed): a real one-member etcd on ephemeral ports; the time
   from a registration until a running client's channel has the URL (20 trials), and the number
   of etcd requests made by the calling thread during 2000 calls.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from container import ChannelAddress, ServiceClient, channel_of, descriptor_of  # noqa: E402
from registry.file import FileComponentRegistry  # noqa: E402
from tests.channels.services import WireService  # noqa: E402

WIRE = descriptor_of(WireService).component_descriptor


def registration_latency(folder: Path) -> list[float]:
    path = folder / "latency.json"
    first = FileComponentRegistry({"type": "file", "path": str(path)})
    first.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:1")])
    client = ServiceClient({"registry": {"type": "file", "path": str(path)}})
    channel = channel_of(client.get_service(WireService, "dispatch-json"))
    samples = []
    for trial in range(20):
        other = FileComponentRegistry({"type": "file", "path": str(path)})
        url = f"http://127.0.0.1:{1000 + trial}"
        started = time.monotonic()
        other.register(WIRE, [ChannelAddress("dispatch-json", url)])
        while url not in channel.address.urls:
            time.sleep(0.001)
        samples.append((time.monotonic() - started) * 1000)
        other.close()
        time.sleep(0.15)
    client.close()
    first.close()
    return samples


def start_server(registry: Path | dict[str, object]) -> subprocess.Popen[str]:
    """Start a wire-test server with a file registry at ``registry`` or the given registry section."""
    section = registry if isinstance(registry, dict) else {"type": "file", "path": str(registry)}
    config = json.dumps({"registry": section})
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.wire_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "WIRE_CONFIG": config},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if re.search(r"serving on", line):
            return process
    raise RuntimeError("server did not start")


def sigkill_avoidance(folder: Path) -> dict[str, float]:
    path = folder / "kill.json"
    servers = [start_server(path) for _ in range(2)]
    client = ServiceClient({"registry": {"type": "file", "path": str(path)}})
    wire = client.get_service(WireService, "dispatch-msgpack")
    channel = channel_of(wire)
    while len(channel.address.urls) < 2:
        time.sleep(0.01)
    victim = servers[0]
    calls, failovers = 0, 0
    stop = threading.Event()
    original = channel._mark_failed

    def counting(url: str) -> None:
        nonlocal failovers
        failovers += 1
        original(url)

    channel._mark_failed = counting  # type: ignore[method-assign]

    def loop() -> None:
        nonlocal calls
        while not stop.is_set():
            wire.whoami()
            calls += 1

    worker = threading.Thread(target=loop)
    worker.start()
    time.sleep(0.5)
    urls_before = list(channel.address.urls)
    killed = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    while len(channel.address.urls) == len(urls_before):
        time.sleep(0.001)
    dropped_ms = (time.monotonic() - killed) * 1000
    stop.set()
    worker.join()
    client.close()
    for server in servers[1:]:
        server.terminate()
        server.wait()
    return {"dropped_ms": dropped_ms, "failed_over_calls": failovers, "calls": calls}


def call_path_cost(folder: Path) -> dict[str, float]:
    path = folder / "cost.json"
    server = start_server(path)
    client = ServiceClient({"registry": {"type": "file", "path": str(path)}})
    wire = client.get_service(WireService, "dispatch-msgpack")
    registry = client.manager.component_registry
    assert isinstance(registry, FileComponentRegistry)
    touches = {"caller": 0}
    original = registry._refresh
    caller = threading.current_thread()

    def counting() -> None:
        if threading.current_thread() is caller:
            touches["caller"] += 1
        original()

    registry._refresh = counting  # type: ignore[method-assign]
    for _ in range(2000):
        wire.hello("x")
    touched = touches["caller"]
    lookup_us = min(timeit.repeat(lambda: registry.get_addresses(WIRE), number=2000, repeat=3)) / 2000 * 1e6
    client.close()
    server.terminate()
    server.wait()
    return {"registry_touches_in_2000_calls": touched, "get_addresses_us": lookup_us}


def etcd_figures(folder: Path) -> dict[str, float] | None:
    import shutil

    from registry.etcd import EtcdComponentRegistry
    from tests.etcd_cluster import EtcdCluster

    if shutil.which("etcd") is None:
        return None
    cluster = EtcdCluster(folder / "etcd", 1).start()
    try:
        settings = {"type": "etcd", "endpoints": cluster.endpoints}
        first = EtcdComponentRegistry(settings)
        first.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:1")])
        client = ServiceClient({"registry": settings})
        channel = channel_of(client.get_service(WireService, "dispatch-json"))
        samples = []
        for trial in range(20):
            other = EtcdComponentRegistry(settings)
            url = f"http://127.0.0.1:{2000 + trial}"
            started = time.monotonic()
            other.register(WIRE, [ChannelAddress("dispatch-json", url)])
            while url not in channel.address.urls:
                time.sleep(0.0005)
            samples.append((time.monotonic() - started) * 1000)
            other.close()
        client.close()
        first.close()

        process = start_server(settings)
        client = ServiceClient({"registry": settings})
        wire = client.get_service(WireService, "dispatch-msgpack")
        registry = client.manager.component_registry
        assert isinstance(registry, EtcdComponentRegistry)
        caller = threading.current_thread()
        requests_made = {"caller": 0}
        for etcd_client in registry._clients:
            original = etcd_client.session.request

            def counting(*args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
                if threading.current_thread() is caller:
                    requests_made["caller"] += 1
                return _original(*args, **kwargs)

            etcd_client.session.request = counting  # type: ignore[method-assign]
        for _ in range(2000):
            wire.hello("x")
        client.close()
        process.terminate()
        process.wait()
        return {
            "median": statistics.median(samples),
            "max": max(samples),
            "requests": requests_made["caller"],
        }
    finally:
        cluster.stop()


def heartbeat_with_many_entries(
    folder: Path, registry_class: type = FileComponentRegistry
) -> dict[str, float]:
    """Median cost of one heartbeat and one reader refresh with 10,000 entries of other hosts."""
    path = folder / f"big-{registry_class.__module__}.json"
    now = time.time()
    foreign = {
        f"other-{i}": {
            "host": "elsewhere",
            "pid": 1000 + i,
            "heartbeat": now + 3600,  # stays live for the whole measurement
            "ttl": 60,
            "components": {f"c-{i}": [{"channel": "dispatch-json", "uri": f"http://h{i}.example:8000"}]},
        }
        for i in range(10_000)
    }
    path.write_text(json.dumps({"version": 1, "instances": foreign}))
    registry = registry_class({"type": "file", "path": str(path), "heartbeat": 3600})
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://mine")])
    beats = []
    for _ in range(20):
        started = time.perf_counter()
        registry._write(raise_errors=True)  # what the heartbeat thread runs
        beats.append((time.perf_counter() - started) * 1000)
    reader = registry_class({"type": "file", "path": str(path)})
    reads = []
    for _ in range(20):
        os.utime(path)  # a changed file: the reader reads it again
        started = time.perf_counter()
        reader.get_addresses(WIRE)
        reads.append((time.perf_counter() - started) * 1000)
    size = path.stat().st_size
    registry.close()
    reader.close()
    return {"heartbeat_ms": statistics.median(beats), "read_ms": statistics.median(reads), "bytes": size}


def old_file_registry() -> type | None:
    """The file registry of the release before this one, when its worktree is at /tmp/oldtree."""
    import importlib.util

    source = Path("/tmp/oldtree/registry/file.py")
    if not source.exists():
        return None
    spec = importlib.util.spec_from_file_location("old_registry_file", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FileComponentRegistry  # type: ignore[no-any-return]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        latency = registration_latency(Path(folder))
        kill = sigkill_avoidance(Path(folder))
        cost = call_path_cost(Path(folder))
        etcd = etcd_figures(Path(folder))
        big = heartbeat_with_many_entries(Path(folder))
        old_class = old_file_registry()
        old_big = heartbeat_with_many_entries(Path(folder), old_class) if old_class else None
    print("| measure | value |")
    print("|---|---:|")
    print(f"| registration -> client's URL list, median of 20 (ms) | {statistics.median(latency):.0f} |")
    print(f"| registration -> client's URL list, max of 20 (ms) | {max(latency):.0f} |")
    print(f"| SIGKILL -> client's URL list drops the instance (ms) | {kill['dropped_ms']:.0f} |")
    print(
        f"| calls that failed over meanwhile (of {kill['calls']:.0f}, 1 thread) | {kill['failed_over_calls']:.0f} |"
    )
    print(
        f"| registry file checks on the calling thread in 2000 calls | {cost['registry_touches_in_2000_calls']} |"
    )
    print(f"| one get_addresses (stat, no read: file unchanged) (µs) | {cost['get_addresses_us']:.1f} |")
    print(
        f"| 10,000 foreign entries ({big['bytes'] / 1e6:.1f} MB): one heartbeat, median of 20 (ms) | "
        f"{big['heartbeat_ms']:.1f} |"
    )
    print(
        f"| 10,000 foreign entries: a reader's refresh after a change, median of 20 (ms) | {big['read_ms']:.1f} |"
    )
    if old_big is not None:
        print(f"| 10,000 foreign entries, release 0.1: one heartbeat (ms) | {old_big['heartbeat_ms']:.1f} |")
        print(f"| 10,000 foreign entries, release 0.1: a reader's refresh (ms) | {old_big['read_ms']:.1f} |")
    if etcd is None:
        print("| etcd | not measured: no etcd binary (apt-get install etcd-server) |")
        return
    print(f"| etcd: registration -> client's URL list, median of 20 (ms) | {etcd['median']:.0f} |")
    print(f"| etcd: registration -> client's URL list, max of 20 (ms) | {etcd['max']:.0f} |")
    print(f"| etcd: requests by the calling thread in 2000 calls | {etcd['requests']:.0f} |")


if __name__ == "__main__":
    main()
