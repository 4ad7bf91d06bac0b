"""The etcd registry against a real etcd: leases, watches, restarts and a cluster."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import requests
from dependency_injector import providers
from etcd3gw.client import Etcd3Client
from etcd3gw.lease import Lease

from container import ChannelAddress, ConfigurationException, ServiceContainer, channel_of, descriptor_of
from registry.etcd import EtcdComponentRegistry, EtcdRegistryException
from tests.channels.services import WireService
from tests.e2e.processes import ROOT, wait_until

WIRE = descriptor_of(WireService).component_descriptor


def config(endpoints: list[str], **extra: object) -> dict:
    return {"type": "etcd", "endpoints": endpoints, "prefix": "/sw-test/", "ttl": 2, "timeout": 2, **extra}


def raw_keys(endpoint: str, prefix: str = "/sw-test/") -> dict[str, dict]:
    client = Etcd3Client(host="127.0.0.1", port=int(endpoint.rsplit(":", 1)[1]), api_path="/v3/")
    return {meta["key"].decode(): json.loads(value) for value, meta in client.get_prefix(prefix)}


def urls(registry: EtcdComponentRegistry, channel: str = "dispatch-json") -> list[str]:
    for address in registry.get_addresses(WIRE):
        if address.channel == channel:
            return address.urls
    return []


def test_register_discover_deregister(etcd):
    """Keys under the prefix hold the address; deregister deletes exactly this process's keys."""
    first, second = (
        EtcdComponentRegistry(config(etcd.endpoints)),
        EtcdComponentRegistry(config(etcd.endpoints)),
    )
    first.register(
        WIRE,
        [ChannelAddress("dispatch-json", "http://a:1"), ChannelAddress("dispatch-msgpack", "http://a:1")],
    )
    second.register(WIRE, [ChannelAddress("dispatch-json", "http://b:2")])
    keys = raw_keys(etcd.endpoints[0])
    assert f"/sw-test/wire-component/dispatch-json/{first.instance_id}" in keys
    assert keys[f"/sw-test/wire-component/dispatch-json/{second.instance_id}"]["uri"] == "http://b:2"
    reader = EtcdComponentRegistry(config(etcd.endpoints))
    assert sorted(urls(reader)) == ["http://a:1", "http://b:2"]
    assert urls(reader, "dispatch-msgpack") == ["http://a:1"]
    first.deregister(WIRE)
    assert sorted(raw_keys(etcd.endpoints[0])) == [
        f"/sw-test/wire-component/dispatch-json/{second.instance_id}"
    ]
    second.close()
    assert raw_keys(etcd.endpoints[0]) == {}, "closing revokes the lease"
    first.close()
    reader.close()


def test_watch_pushes_changes_to_channels(etcd):
    """A watched channel hears of new and removed instances through the watch."""
    server = EtcdComponentRegistry(config(etcd.endpoints))
    server.register(WIRE, [ChannelAddress("dispatch-json", "http://one")])
    manager = ServiceContainer(
        config=providers.Object({"registry": config(etcd.endpoints)})
    ).service_manager()
    channel = channel_of(manager.get_service(WireService, "dispatch-json"))
    assert channel.address.urls == ["http://one"]
    other = EtcdComponentRegistry(config(etcd.endpoints))
    other.register(WIRE, [ChannelAddress("dispatch-json", "http://two")])
    assert wait_until(lambda: sorted(channel.address.urls) == ["http://one", "http://two"], timeout=5)
    other.close()
    assert wait_until(lambda: channel.address.urls == ["http://one"], timeout=5)
    manager.close()
    server.close()


KILLED_SCRIPT = textwrap.dedent("""
    import sys
    from container import ChannelAddress, descriptor_of
    from registry.etcd import EtcdComponentRegistry
    from tests.channels.services import WireService
    wire = descriptor_of(WireService).component_descriptor
    settings = {"type": "etcd", "endpoints": [sys.argv[1]], "prefix": "/sw-test/", "ttl": 2}
    registry = EtcdComponentRegistry(settings)
    registry.register(wire, [ChannelAddress("dispatch-json", "http://doomed")])
    print("registered", flush=True)
    sys.stdin.read()
""")


def test_killed_process_keys_vanish_when_its_lease_expires(etcd):
    """A SIGKILLed process's keys disappear once its lease runs out."""
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, etcd.endpoints[0]],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "registered"
    assert [v["uri"] for v in raw_keys(etcd.endpoints[0]).values()] == ["http://doomed"]
    time.sleep(3)  # longer than the TTL: the keep-alive thread keeps the keys
    assert [v["uri"] for v in raw_keys(etcd.endpoints[0]).values()] == ["http://doomed"]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.stdin is not None
    process.stdin.close()
    process.stdout.close()
    assert wait_until(lambda: raw_keys(etcd.endpoints[0]) == {}, timeout=10)


def test_expired_lease_registers_again(etcd):
    """When the lease is gone (revoked behind our back), the process registers again."""
    registry = EtcdComponentRegistry(config(etcd.endpoints))
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://phoenix")])
    old_lease = registry._lease_id
    client = Etcd3Client(host="127.0.0.1", port=etcd.members[0].client_port, api_path="/v3/")
    Lease(old_lease, client).revoke()
    assert raw_keys(etcd.endpoints[0]) == {}
    assert wait_until(
        lambda: [v["uri"] for v in raw_keys(etcd.endpoints[0]).values()] == ["http://phoenix"], 10
    )
    assert registry._lease_id != old_lease
    registry.close()


def test_etcd_restart_keeps_cached_addresses_and_catches_up(etcd):
    """With etcd down, channels keep their URLs; changes made after the restart still arrive."""
    server = EtcdComponentRegistry(config(etcd.endpoints, ttl=10))
    server.register(WIRE, [ChannelAddress("dispatch-json", "http://steady")])
    manager = ServiceContainer(
        config=providers.Object({"registry": config(etcd.endpoints)})
    ).service_manager()
    channel = channel_of(manager.get_service(WireService, "dispatch-json"))
    member = etcd.members[0]
    member.stop()
    time.sleep(1.0)
    assert channel.address.urls == ["http://steady"], "addresses survive etcd being down"
    member.start()
    member.wait_healthy()
    later = EtcdComponentRegistry(config(etcd.endpoints, ttl=10))
    later.register(WIRE, [ChannelAddress("dispatch-json", "http://after-restart")])
    assert wait_until(
        lambda: sorted(channel.address.urls) == ["http://after-restart", "http://steady"], timeout=15
    )
    later.close()
    manager.close()
    server.close()


def test_cluster_with_one_member_stopped(etcd3):
    """With the first endpoint's member stopped, registration and discovery go to the others."""
    etcd3.members[0].stop()
    registry = EtcdComponentRegistry(config(etcd3.endpoints))
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://clustered")])
    manager = ServiceContainer(
        config=providers.Object({"registry": config(etcd3.endpoints)})
    ).service_manager()
    channel = channel_of(manager.get_service(WireService, "dispatch-json"))
    assert channel.address.urls == ["http://clustered"]
    other = EtcdComponentRegistry(config(list(reversed(etcd3.endpoints))))
    other.register(WIRE, [ChannelAddress("dispatch-json", "http://second")])
    assert wait_until(
        lambda: sorted(channel.address.urls) == ["http://clustered", "http://second"], timeout=10
    )
    other.close()
    manager.close()
    registry.close()


def test_no_endpoint_answering_is_a_clear_error(tmp_path):
    """When no endpoint answers, the error lists them."""
    from tests.etcd_cluster import free_ports

    port = free_ports(1)[0]
    registry = EtcdComponentRegistry(config([f"http://127.0.0.1:{port}"]))
    with pytest.raises(EtcdRegistryException, match=f"no etcd endpoint answered: http://127.0.0.1:{port}"):
        registry.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"endpoints": "ftp://x"}, "not an http"),
        ({"ttl": 0}, "'registry.ttl' must be a positive"),
        ({"endpoints": []}, "'registry.endpoints' must be a list"),
    ],
    ids=["scheme", "ttl", "empty"],
)
def test_bad_settings(settings, message):
    """Malformed settings are refused naming the key."""
    with pytest.raises(ConfigurationException, match=message):
        EtcdComponentRegistry({"type": "etcd", **settings})


def test_health_endpoint_reachable(etcd):
    """The fixture's etcd is real and healthy (the tests above talk to it)."""
    assert requests.get(etcd.endpoints[0] + "/health", timeout=5).json()["health"] == "true"
