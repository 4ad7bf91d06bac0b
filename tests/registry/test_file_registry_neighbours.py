"""The file registry against hostile or broken neighbours on the same host (real processes)."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from container import ChannelAddress, ConfigurationException, ServiceClient, channel_of, descriptor_of
from registry.file import FileComponentRegistry, RegistryFileException
from tests.channels.services import WireService
from tests.e2e.processes import ServerProcess, python_module, wait_until

WIRE = descriptor_of(WireService).component_descriptor

GARBAGE_WRITER = textwrap.dedent("""
    import sys, time
    path, shape = sys.argv[1], sys.argv[2]
    garbage = b"\\x00garbage{" if shape == "bytes" else b'{"instances": 5}'
    print("writing", flush=True)
    while True:
        with open(path, "wb") as out:   # in place, as a broken neighbour would
            out.write(garbage)
        time.sleep(0.2)
""")


def make(path: Path, **settings: object) -> FileComponentRegistry:
    return FileComponentRegistry({"type": "file", "path": str(path), **settings})


@pytest.mark.parametrize("shape", ["bytes", "wrong-shape"])
def test_calls_keep_working_while_a_neighbour_writes_garbage(tmp_path, shape):
    """A process overwriting the file with garbage every 0.2 s: no call fails, the file heals."""
    path = tmp_path / "registry.json"
    registry = {"type": "file", "path": str(path), "ttl": 5, "heartbeat": 0.5, "poll_interval": 0.05}
    server = ServerProcess(
        python_module("tests.e2e.wire_server"), env={"WIRE_CONFIG": json.dumps({"registry": registry})}
    )
    writer = None
    try:
        with ServiceClient({"registry": registry}) as client:
            wire = client.get_service(WireService, "dispatch-msgpack")
            assert wait_until(lambda: len(channel_of(wire).address.urls) == 1)
            writer = subprocess.Popen(
                [sys.executable, "-c", GARBAGE_WRITER, str(path), shape], stdout=subprocess.PIPE, text=True
            )
            assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
            failures = 0
            deadline = time.monotonic() + 3
            calls = 0
            while time.monotonic() < deadline:
                try:
                    wire.whoami()
                except Exception:
                    failures += 1
                calls += 1
                time.sleep(0.01)
            assert calls > 50 and failures == 0, f"{failures} of {calls} calls failed"
            writer.kill()
            writer.wait(10)
            # The server's registry repairs the file: valid again with its entry.
            assert wait_until(lambda: _entries(path) == 1, timeout=5)
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
            writer.wait(10)
        if writer is not None and writer.stdout is not None:
            writer.stdout.close()
        assert server.terminate() == 0, server.output


def _entries(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["instances"])
    except (ValueError, KeyError, TypeError):
        return -1


def test_lock_and_data_files_are_for_this_user_only(tmp_path):
    path = tmp_path / "reg" / "registry.json"
    registry = make(path)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(Path(str(path) + ".lock").stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    finally:
        registry.close()


def test_a_configured_mode_shares_the_files_with_a_group(tmp_path):
    path = tmp_path / "registry.json"
    registry = make(path, mode="0660")
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://x")])
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        assert stat.S_IMODE(Path(str(path) + ".lock").stat().st_mode) == 0o660
    finally:
        registry.close()


def test_a_lock_file_left_readable_by_others_is_narrowed(tmp_path):
    lock = tmp_path / "registry.json.lock"
    lock.write_text("")
    lock.chmod(0o644)
    make(tmp_path / "registry.json").close()
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", ["0644", "0606", "0700", "rw", 0o1600])
def test_a_bad_mode_is_refused(tmp_path, mode):
    with pytest.raises(ConfigurationException, match="registry.mode"):
        make(tmp_path / "registry.json", mode=mode)


def test_a_folder_anyone_may_write_to_is_refused(tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ConfigurationException, match="writable by every user"):
        make(folder / "registry.json")
    folder.chmod(0o1777)  # with the sticky bit (as /tmp): others cannot replace our files
    make(folder / "registry.json").close()


def test_a_folder_on_proc_is_a_clear_error_at_once():
    started = time.monotonic()
    with pytest.raises(ConfigurationException, match="/proc"):
        make(Path("/proc/registry.json"))
    assert time.monotonic() - started < 2


def test_a_file_over_the_size_limit_is_not_read(tmp_path, caplog):
    """A 74 MiB file (sparse here) is refused from its size; the last good view stays."""
    path = tmp_path / "registry.json"
    owner = make(path)
    owner.register(WIRE, [ChannelAddress("dispatch-json", "http://mine")])
    reader = make(path)
    assert [a.urls for a in reader.get_addresses(WIRE)] == [["http://mine"]]
    with caplog.at_level(logging.WARNING, logger="servicewire.registry.file"):
        with open(path, "r+b") as file:
            file.truncate(74 * 1024 * 1024)
        assert [a.urls for a in reader.get_addresses(WIRE)] == [["http://mine"]]
    assert any("more than registry.max_size" in r.getMessage() for r in caplog.records)
    owner.register(WIRE, [ChannelAddress("dispatch-json", "http://mine")])  # a writer repairs it
    assert path.stat().st_size < 4096
    owner.close()
    reader.close()


def test_a_document_over_the_size_limit_is_refused_at_registration(tmp_path):
    registry = make(tmp_path / "registry.json", max_size=4096)
    many = [ChannelAddress("dispatch-json", f"http://host-{i}.example:8000") for i in range(200)]
    with pytest.raises(RegistryFileException, match="more than registry.max_size"):
        registry.register(WIRE, many)
    registry.close()


def test_heartbeats_work_with_ten_thousand_foreign_entries(tmp_path):
    """10,000 entries of other hosts: our heartbeat still lands and readers find us (see bench/)."""
    path = tmp_path / "registry.json"
    now = time.time()
    foreign = {
        f"other-{i}": {
            "host": "elsewhere",
            "pid": 1000 + i,
            "heartbeat": now,
            "ttl": 60,
            "components": {f"c-{i}": [{"channel": "dispatch-json", "uri": f"http://h{i}:1"}]},
        }
        for i in range(10_000)
    }
    path.write_text(json.dumps({"version": 1, "instances": foreign}))
    registry = make(path, heartbeat=0.1)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://mine")])
    try:
        first = json.loads(path.read_text())["instances"][registry.instance_id]["heartbeat"]
        assert wait_until(
            lambda: json.loads(path.read_text())["instances"][registry.instance_id]["heartbeat"] > first
        )
        assert len(json.loads(path.read_text())["instances"]) == 10_001
        assert [a.urls for a in make(path).get_addresses(WIRE)] == [["http://mine"]]
    finally:
        registry.close()


def test_a_registry_written_by_an_older_version_is_read(tmp_path):
    """Files written by 0.1 (json.dump, fsync'd, 0644) are read and adopted."""
    path = tmp_path / "registry.json"
    entry = {
        "host": "elsewhere",
        "pid": 99,
        "heartbeat": time.time(),
        "ttl": 10,
        "components": {WIRE.name: [{"channel": "dispatch-json", "uri": "http://old"}]},
    }
    path.write_text(json.dumps({"version": 1, "instances": {"old": entry}}, indent=2))
    os.chmod(path, 0o644)
    registry = make(path)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://new")])
    try:
        assert sorted(registry.get_addresses(WIRE)[0].urls) == ["http://new", "http://old"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        registry.close()
