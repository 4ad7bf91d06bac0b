"""The file registry: shared JSON file, heartbeats, liveness, corruption, locking, processes."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from container import ChannelAddress, ConfigurationException, channel_of, descriptor_of
from registry.file import FileComponentRegistry, RegistryFileException
from tests.channels.services import WireService
from tests.e2e.processes import ROOT, wait_until

WIRE = descriptor_of(WireService).component_descriptor


def make(path: Path, **settings: object) -> FileComponentRegistry:
    return FileComponentRegistry({"type": "file", "path": str(path), **settings})


def urls(registry: FileComponentRegistry, channel: str = "dispatch-json") -> list[str]:
    for address in registry.get_addresses(WIRE):
        if address.channel == channel:
            return address.urls
    return []


def test_register_get_deregister_across_registries(tmp_path):
    """Two registries on one file see each other's entries; deregister removes only its own."""
    path = tmp_path / "registry.json"
    first, second = make(path), make(path)
    try:
        first.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:1")])
        second.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:2")])
        assert sorted(urls(first)) == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        first.deregister(WIRE)
        assert urls(second) == ["http://127.0.0.1:2"]
        document = json.loads(path.read_text())
        assert list(document["instances"]) == [second.instance_id]
        entry = document["instances"][second.instance_id]
        assert entry["pid"] == os.getpid() and entry["host"] and entry["ttl"] == 10
    finally:
        first.close()
        second.close()
    assert json.loads(path.read_text())["instances"] == {}


def test_folder_is_created(tmp_path):
    """The file's folder is created when missing."""
    registry = make(tmp_path / "a" / "b" / "registry.json")
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])
    assert (tmp_path / "a" / "b" / "registry.json").exists()
    registry.close()


def test_expired_entries_are_ignored_and_dropped(tmp_path):
    """An entry whose TTL ran out is not offered, and the next writer removes it."""
    path = tmp_path / "registry.json"
    stale = {
        "host": "elsewhere",
        "pid": 1,
        "heartbeat": time.time() - 60,
        "ttl": 10,
        "components": {WIRE.name: [{"channel": "dispatch-json", "uri": "http://stale"}]},
    }
    path.write_text(json.dumps({"version": 1, "instances": {"old": stale}}))
    registry = make(path)
    assert urls(registry) == []
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://fresh")])
    assert "old" not in json.loads(path.read_text())["instances"]
    registry.close()


def test_entries_of_dead_processes_are_ignored(tmp_path):
    """An entry of this host whose process is gone is not offered."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    path = tmp_path / "registry.json"
    registry = make(path)
    entry = {
        "host": registry.host,
        "pid": int(dead.stdout),
        "heartbeat": time.time(),
        "ttl": 10,
        "components": {WIRE.name: [{"channel": "dispatch-json", "uri": "http://dead"}]},
    }
    path.write_text(json.dumps({"version": 1, "instances": {"dead": entry}}))
    assert urls(registry) == []
    registry.close()


def holds_entries(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text())["instances"])
    except ValueError:
        return False


def test_a_damaged_file_keeps_the_last_good_view_and_is_repaired(tmp_path, caplog):
    """A truncated file: readers keep what they last read (and warn once); writers repair it."""
    path = tmp_path / "registry.json"
    registry = make(path, heartbeat=0.2)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://mine")])
    reader = make(path)
    assert urls(reader) == ["http://mine"]
    with caplog.at_level(logging.WARNING, logger="servicewire.registry.file"):
        path.write_text(path.read_text()[:25])  # truncated mid-document
        assert urls(reader) == ["http://mine"]
        assert urls(reader) == ["http://mine"]
    warnings = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert wait_until(lambda: holds_entries(path), timeout=5)
    registry.close()
    reader.close()


def test_entries_of_the_wrong_shape_are_skipped_one_by_one(tmp_path, caplog):
    """Valid JSON with one bad entry: the good entries are used, the bad one is ignored."""
    path = tmp_path / "registry.json"
    good = {
        "host": "elsewhere",
        "pid": 7,
        "heartbeat": time.time(),
        "ttl": 10,
        "components": {WIRE.name: [{"channel": "dispatch-json", "uri": "http://good"}]},
    }
    path.write_text(json.dumps({"instances": {"x": {"pid": "one"}, "y": good}}))
    with caplog.at_level(logging.WARNING, logger="servicewire.registry.file"):
        assert urls(make(path)) == ["http://good"]
    assert any("1 entries of the wrong shape" in r.getMessage() for r in caplog.records)


def test_unwritable_file_is_a_clear_error(tmp_path):
    """A folder where the file should be fails when the registry is built, naming the path and the reason."""
    path = tmp_path / "registry.json"
    path.mkdir()  # a folder where the file should be
    with pytest.raises(ConfigurationException) as info:
        make(path)
    assert str(info.value) == (
        f"the file registry cannot use {path}: it is a folder, not a regular file; "
        "remove it, or choose a folder of your own"
    )


def test_a_folder_made_where_the_file_should_be_after_boot_fails_registration(tmp_path):
    """Registration names the path and the reason in servicewire's words."""
    path = tmp_path / "registry.json"
    registry = make(path)
    path.mkdir()
    with pytest.raises(RegistryFileException) as info:
        registry.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])
    assert str(info.value).startswith(f"cannot write the file registry {path}: ")
    assert "it is a folder, not a regular file" in str(info.value)
    assert "the path is a directory, not a file" in str(info.value)
    registry.close()


def test_uncreatable_folder_is_a_clear_error(tmp_path):
    """A folder that cannot be created is a ConfigurationException naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigurationException, match="cannot create the folder of the file registry"):
        make(blocker / "registry.json")


def test_bad_settings_are_refused():
    """Settings of the wrong kind are refused with the key named."""
    with pytest.raises(ConfigurationException, match="'registry.ttl' must be a positive number"):
        FileComponentRegistry({"type": "file", "ttl": "ten"})


def test_watched_channels_hear_about_new_instances(tmp_path):
    """A watched channel gets the new URL list when another process registers."""
    from dependency_injector import providers

    from container import ServiceContainer

    path = tmp_path / "registry.json"
    server_side = make(path)
    server_side.register(WIRE, [ChannelAddress("dispatch-json", "http://one")])
    manager = ServiceContainer(
        config=providers.Object({"registry": {"type": "file", "path": str(path), "poll_interval": 0.05}})
    ).service_manager()
    proxy = manager.get_service(WireService, "dispatch-json")
    channel = channel_of(proxy)
    assert channel.address.urls == ["http://one"]
    other = make(path)
    other.register(WIRE, [ChannelAddress("dispatch-json", "http://two")])
    assert wait_until(lambda: sorted(channel.address.urls) == ["http://one", "http://two"], timeout=5)
    other.deregister(WIRE)
    assert wait_until(lambda: channel.address.urls == ["http://one"], timeout=5)
    manager.close()
    server_side.close()
    other.close()


REGISTER_SCRIPT = textwrap.dedent("""
    import sys, time
    from container import ChannelAddress, descriptor_of
    from registry.file import FileComponentRegistry
    from tests.channels.services import WireService
    wire = descriptor_of(WireService).component_descriptor
    registry = FileComponentRegistry({"type": "file", "path": sys.argv[1], "lock_timeout": 30})
    start = float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))
    registry.register(wire, [ChannelAddress("dispatch-json", "http://p" + sys.argv[3])])
    print("registered", flush=True)
    sys.stdin.read()
""")


def test_eight_processes_registering_at_once_lose_nothing(tmp_path):
    """Eight processes registering at the same moment all end up in the file."""
    path = tmp_path / "registry.json"
    start = time.time() + 2.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER_SCRIPT, str(path), str(start), str(i)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "registered"
        reader = make(path)
        assert sorted(urls(reader)) == sorted(f"http://p{i}" for i in range(8))
        assert len(json.loads(path.read_text())["instances"]) == 8
    finally:
        for process in processes:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.close()
            process.wait(timeout=30)
            process.stdout.close()


HOLD_LOCK_SCRIPT = textwrap.dedent("""
    import fcntl, os, sys, time
    # The kernel's flock, as every version's lock takes it (filelock's included).
    fcntl.flock(os.open(sys.argv[1] + ".lock", os.O_RDWR | os.O_CREAT, 0o600), fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(600)
""")


def test_lock_held_by_a_killed_process_does_not_block_writers(tmp_path):
    """A writer killed while holding the lock does not keep the next writer out."""
    path = tmp_path / "registry.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    blocked = make(path, lock_timeout=0.5)
    with pytest.raises(RegistryFileException, match="lock held longer than 0.5s"):
        blocked.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    registry = make(path, lock_timeout=5)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://after")])
    assert urls(registry) == ["http://after"]
    registry.close()
    blocked.close()
