"""Every built-in plugin passes the conformance kit that third-party plugins run."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.http import HttpServer
from container import ChannelAddress, ComponentRegistry, ListingNotSupportedException, Server
from container.plugin import REGISTRIES
from container.testing import ChannelConformance, RegistryConformance
from registry.static import StaticComponentRegistry


class TestLocalChannel(ChannelConformance):
    """The in-process channel: inproc://<manager id> URLs."""

    channel = "local"
    cancels_promptly = True  # an async implementation runs in the caller's own task

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress("local", "inproc://0")


class TestDispatchJsonChannel(ChannelConformance):
    """HTTP with JSON bodies, served by HttpServer (the embedded server)."""

    channel = "dispatch-json"
    cancels_promptly = True  # the asyncio client closes the connection; the server cancels

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress(self.channel, f"http://127.0.0.1:{port}")

    def make_server(self) -> Server:
        return HttpServer("127.0.0.1", 0)


class TestDispatchMsgpackChannel(TestDispatchJsonChannel):
    """HTTP with MessagePack bodies."""

    channel = "dispatch-msgpack"


class TestStaticRegistry(RegistryConformance):
    """In-memory registration per registry object; no liveness claim."""

    shared = False

    def registry_config(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
        return {"type": "static"}


class TestFileRegistry(RegistryConformance):
    """One JSON file; a killed process's entries vanish at the next poll (pid check)."""

    liveness_timeout = 5.0

    def registry_config(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
        return {"type": "file", "path": str(tmp_path / "registry.json"), "poll_interval": 0.05}


class TestEtcdRegistry(RegistryConformance):
    """A real etcd; a killed process's keys vanish when its 2 s lease expires."""

    liveness_timeout = 10.0

    def registry_config(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
        etcd = request.getfixturevalue("etcd")
        return {"type": "etcd", "endpoints": etcd.endpoints, "ttl": 2}


def test_every_builtin_plugin_runs_the_kit():
    """Each channel and registry this distribution declares has a kit class above."""
    from importlib import metadata

    from container.plugin import CHANNEL_GROUP, REGISTRY_GROUP

    ours = {
        entry.name
        for group in (CHANNEL_GROUP, REGISTRY_GROUP)
        for entry in metadata.entry_points(group=group)
        if entry.dist is not None and entry.dist.name == "servicewire"
    }
    covered = {cls.channel for cls in (TestLocalChannel, TestDispatchJsonChannel, TestDispatchMsgpackChannel)}
    covered |= {"static", "file", "etcd"}
    assert ours == covered
    for kit in (TestStaticRegistry, TestFileRegistry, TestEtcdRegistry):
        assert issubclass(kit, RegistryConformance)


class UnlistedRegistry(StaticComponentRegistry):
    """A registry written to the contract before list_addresses existed: it does not list."""

    list_addresses = ComponentRegistry.list_addresses


class TestARegistryThatCannotList(RegistryConformance):
    """A plugin without the optional list_addresses passes the kit, which checks its error."""

    shared = False
    lists = False

    def registry_config(self, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
        REGISTRIES.register("unlisted", UnlistedRegistry)
        return {"type": "unlisted"}


def test_a_registry_that_cannot_list_says_so():
    """The inherited list_addresses names the registry and says that it cannot list."""
    with pytest.raises(ListingNotSupportedException) as info:
        UnlistedRegistry({"type": "unlisted"}).list_addresses()
    assert str(info.value).startswith("the UnlistedRegistry registry cannot list its components")
