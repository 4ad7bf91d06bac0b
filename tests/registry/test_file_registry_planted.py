"""Files planted where the file registry keeps its own: another user's, links, FIFOs (real processes).

The tests that plant a file as another user need root: the attacker is a child process that
drops to uid 65534 (nobody) before it writes into a sticky, world-writable folder, as a second
user of a shared host would. CI runs as root; elsewhere they skip, saying so.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from container import ChannelAddress, ConfigurationException, ServiceClient, descriptor_of
from registry.file import FileComponentRegistry, RegistryFileException
from tests.channels.services import WireService
from tests.e2e.processes import ROOT, ServerProcess, python_module, wait_until

WIRE = descriptor_of(WireService).component_descriptor
NOBODY = 65534
TOKEN = "planted-test-token-7f3a"  # a test credential that must never reach the attacker

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: the attacker process drops to uid 65534 to plant a file as another user "
    "(CI runs as root)",
)

# Imports first: once it is uid 65534 it may not read the interpreter's library (under /root).
ATTACKER = textwrap.dedent("""
    import json, os, select, socket, sys, time
    folder, component = sys.argv[1], sys.argv[2]
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    entry = {"host": socket.gethostname(), "pid": os.getpid(), "heartbeat": time.time(), "ttl": 600,
             "components": {component: [{"channel": "dispatch-json", "uri": url},
                                        {"channel": "dispatch-msgpack", "uri": url}]}}
    path = os.path.join(folder, "registry.json")
    with open(path, "w") as out:
        json.dump({"version": 1, "instances": {"planted": entry}}, out)
    os.chmod(path, 0o644)
    print("planted", os.getuid(), flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 1)
        if sys.stdin in ready:
            break
        if listener in ready:
            connection, _ = listener.accept()
            connection.settimeout(2)
            try:
                print("received", repr(connection.recv(65536)), flush=True)
                connection.sendall(b"HTTP/1.1 503 Service Unavailable\\r\\ncontent-length: 0\\r\\n\\r\\n")
            except OSError:
                pass
            connection.close()
    print("done", flush=True)
""")


class Attacker:
    """A process of uid 65534 that plants registry.json pointing at its own listener."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ATTACKER, str(folder), WIRE.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == f"planted {NOBODY}", line + self.process.stdout.read()

    def stop(self) -> str:
        """Stop it and return everything it printed (each request it received)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        output = self.process.stdout.read()
        self.process.wait(timeout=10)
        self.process.stdout.close()
        return output


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A sticky world-writable folder (as /tmp), reachable by uid 65534 (tmp_path is not)."""
    base = Path(tempfile.mkdtemp(prefix="servicewire-shared-", dir="/tmp"))
    try:
        base.chmod(0o755)
        folder = base / "shared"
        folder.mkdir()
        folder.chmod(0o1777)
        yield folder
    finally:
        shutil.rmtree(base, ignore_errors=True)


def make(path: Path, **settings: object) -> FileComponentRegistry:
    return FileComponentRegistry({"type": "file", "path": str(path), **settings})


def refusals(caplog: pytest.LogCaptureFixture, *words: str) -> list[str]:
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    return [message for message in warnings if all(word in message for word in words)]


@needs_root
def test_a_registry_file_another_user_planted_gets_no_call_and_no_token(shared_folder):
    """Another user's registry.json in a sticky folder: refused at boot, by name; no request leaves."""
    path = shared_folder / "registry.json"
    attacker = Attacker(shared_folder)
    try:
        config = {"registry": {"type": "file", "path": str(path)}, "auth": {"credentials": {"token": TOKEN}}}
        with pytest.raises(ConfigurationException) as info:
            with ServiceClient(config) as client:
                client.get_service(WireService, "dispatch-json").whoami()
        assert str(path) in str(info.value)
        assert f"owned by uid {NOBODY}" in str(info.value)
    finally:
        output = attacker.stop()
    assert "received" not in output, output


@needs_root
def test_a_registry_file_planted_after_boot_is_refused_by_readers_once(shared_folder, caplog):
    """Planted once the client runs: readers keep their last good view (empty) and say why once."""
    path = shared_folder / "registry.json"
    reader = make(path, poll_interval=0.02)
    try:
        assert reader.get_addresses(WIRE) == []
        attacker = Attacker(shared_folder)
        try:
            with caplog.at_level(logging.WARNING, logger="servicewire.registry.file"):
                for _ in range(20):
                    assert reader.get_addresses(WIRE) == []
                    path.touch()  # a changed mtime: every look-up reads (and refuses) it again
        finally:
            output = attacker.stop()
        found = refusals(caplog, str(path), "refused", f"owned by uid {NOBODY}")
        assert len(found) == 1, [r.getMessage() for r in caplog.records]
        assert "received" not in output
    finally:
        reader.close()


@needs_root
def test_a_group_mode_admits_a_group_members_file_and_nothing_else(tmp_path):
    """registry.mode 0660 accepts a file of another user with one of our groups; 0600 does not."""
    path = tmp_path / "registry.json"
    entry = {
        "host": "elsewhere",
        "pid": 7,
        "heartbeat": time.time(),
        "ttl": 60,
        "components": {WIRE.name: [{"channel": "dispatch-json", "uri": "http://127.0.0.1:9"}]},
    }
    path.write_text(json.dumps({"version": 1, "instances": {"theirs": entry}}))
    path.chmod(0o640)
    os.chown(path, NOBODY, os.getegid())  # another user, our group
    shared = make(path, mode="0660")
    assert [a.urls for a in shared.get_addresses(WIRE)] == [["http://127.0.0.1:9"]]
    shared.close()
    with pytest.raises(ConfigurationException, match=f"owned by uid {NOBODY}"):
        make(path)  # 0600: this user's files only
    os.chown(path, NOBODY, NOBODY)  # another user, another group
    with pytest.raises(ConfigurationException, match="nor one of its groups"):
        make(path, mode="0660")


@needs_root
def test_a_folder_that_another_user_owns_is_refused(tmp_path):
    """Its owner could replace any file in it, sticky bit or not."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(ConfigurationException, match=f"belongs to uid {NOBODY}"):
        make(folder / "registry.json")


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched(tmp_path):
    """registry.json.lock as a link to another file: refused at boot; the target keeps its mode and bytes."""
    target = tmp_path / "precious"
    target.write_text("keep me")
    target.chmod(0o644)
    (tmp_path / "registry.json.lock").symlink_to(target)
    with pytest.raises(ConfigurationException) as info:
        make(tmp_path / "registry.json")
    assert str(tmp_path / "registry.json.lock") in str(info.value)
    assert "symbolic link" in str(info.value)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_text() == "keep me"


def test_a_lock_file_planted_as_a_hard_link_is_refused_and_its_target_untouched(tmp_path):
    """A hard link to another file of this user as registry.json.lock: refused; its mode is left alone."""
    target = tmp_path / "precious"
    target.write_text("keep me")
    target.chmod(0o644)
    os.link(target, tmp_path / "registry.json.lock")
    with pytest.raises(ConfigurationException, match="2 hard links"):
        make(tmp_path / "registry.json")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_text() == "keep me"


def test_a_lock_file_replaced_by_a_link_after_boot_fails_writes_and_is_logged_once(tmp_path, caplog):
    """A registration names the lock file and the reason; heartbeats log it once, not each time."""
    path = tmp_path / "registry.json"
    target = tmp_path / "precious"
    target.write_text("keep me")
    target.chmod(0o644)
    registry = make(path, heartbeat=0.02)
    registry.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:1")])
    try:
        lock = tmp_path / "registry.json.lock"
        planted = tmp_path / "planted"
        planted.symlink_to(target)
        with caplog.at_level(logging.WARNING, logger="servicewire.registry.file"):
            os.replace(planted, lock)
            time.sleep(0.5)  # 25 heartbeats
        found = refusals(caplog, str(lock), "symbolic link")
        assert len(found) == 1, [r.getMessage() for r in caplog.records]
        with pytest.raises(RegistryFileException) as info:
            registry.register(WIRE, [ChannelAddress("dispatch-json", "http://127.0.0.1:2")])
        assert str(lock) in str(info.value) and "symbolic link" in str(info.value)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        assert target.read_text() == "keep me"
    finally:
        registry.close()


READER = textwrap.dedent("""
    import sys, time
    from container import ConfigurationException, ServiceClient
    from tests.channels.services import WireService
    started = time.monotonic()
    try:
        with ServiceClient({"registry": {"type": "file", "path": sys.argv[1]}}) as client:
            client.get_service(WireService, "dispatch-json").whoami()
        print("called")
    except ConfigurationException as exc:
        print("refused:", exc)
    except Exception as exc:
        print("failed:", type(exc).__name__, exc)
    print("seconds %.2f" % (time.monotonic() - started))
""")


@pytest.mark.parametrize("planted", ["fifo", "link-to-fifo"])
def test_a_fifo_planted_as_the_registry_file_blocks_no_new_client(tmp_path, planted):
    """A new client process answers at once, refusing the file by name, instead of hanging in open()."""
    path = tmp_path / "registry.json"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    if planted == "fifo":
        fifo.rename(path)
    else:
        path.symlink_to(fifo)
    try:
        result = subprocess.run(
            [sys.executable, "-c", READER, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a new client hung on a FIFO planted as the registry file")
    expected = f"refused: the file registry cannot use {path}"
    assert result.stdout.startswith(expected), result.stdout + result.stderr
    assert ("a FIFO" if planted == "fifo" else "symbolic link") in result.stdout


def test_a_fifo_planted_under_a_running_server_is_replaced_and_sigterm_works(tmp_path):
    """The server's next write replaces the link (it never opens the FIFO), and SIGTERM stops it at once."""
    path = tmp_path / "registry.json"
    registry = {"type": "file", "path": str(path), "heartbeat": 0.1, "poll_interval": 0.05}
    server = ServerProcess(
        python_module("tests.e2e.wire_server"), env={"WIRE_CONFIG": json.dumps({"registry": registry})}
    )
    try:
        assert wait_until(lambda: path.exists())
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        planted = tmp_path / "planted"
        planted.symlink_to(fifo)
        os.replace(planted, path)
        assert wait_until(lambda: path.is_file() and not path.is_symlink(), timeout=5), server.output
        reader = make(path)
        assert {tuple(a.urls) for a in reader.get_addresses(WIRE)} == {(server.url,)}
        reader.close()
        started = time.monotonic()
        assert server.terminate(timeout=10) == 0, server.output
        assert time.monotonic() - started < 5
        assert server.output.count("is refused: it is a symbolic link") == 1, server.output
    finally:
        if server.process.poll() is None:
            server.kill()
