"""The file registry: one JSON document shared by the processes of a host (or a shared disk).

Config::

    {"registry": {"type": "file", "path": "/run/user/1000/servicewire/registry.json",
                  "ttl": 10, "heartbeat": 3.3, "poll_interval": 0.1, "lock_timeout": 10}}

Document (``instances`` keyed by a random id per registry object, that is per process)::

    {"version": 1,
     "instances": {"<id>": {"host": "web-1", "pid": 4242, "heartbeat": 1764250000.5, "ttl": 10,
                            "components": {"hello-component": [
                                {"channel": "dispatch-json", "uri": "http://10.0.0.5:8000"}]}}}}

Writers hold a ``filelock`` lock beside the file and replace the file atomically (temporary
file, fsync, ``os.replace``). Each process renews its heartbeat in a background thread well
within the TTL. Readers notice changes by ``stat`` (a full read only when the file changed); a
watcher thread pushes new URL lists to the watched channels. An entry whose TTL ran out, or whose
process no longer exists on this host, is ignored by readers and dropped by the next writer.
Heartbeats compare wall-clock times, so every process must share one clock: one host, or hosts
sharing a disk with synchronised clocks.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import filelock

from container import LocalServiceException
from container.plugin import (
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ComponentRegistry,
    ConfigurationException,
    WatchList,
)

logger = logging.getLogger("servicewire.registry.file")

DEFAULT_TTL = 10.0
"""Seconds after its last heartbeat that an entry counts as dead."""

DEFAULT_POLL_INTERVAL = 0.1
"""Seconds between two checks of the file (a stat) by the watcher thread."""

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for the file lock."""

_VERSION = 1


class RegistryFileException(LocalServiceException):
    """The registry file cannot be written (the message names the path and the reason)."""


def default_path() -> Path:
    """Return the default registry file: under ``$XDG_RUNTIME_DIR``, else the user's cache."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.access(runtime, os.W_OK) else Path.home() / ".cache"
    return base / "servicewire" / "registry.json"


def _seconds(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationException(
            f"config key 'registry.{key}' must be a positive number of seconds, got {value!r}"
        )
    return float(value)


class FileComponentRegistry(ComponentRegistry):
    """Components registered in a JSON file shared by the processes of a host.

    Args:
        config: the ``registry`` config section (``path``, ``ttl``, ``heartbeat``,
            ``poll_interval``, ``lock_timeout``; all optional).

    Raises:
        ConfigurationException: a setting has a bad value, or the file's folder cannot be
            created.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        path = self.config.get("path")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ConfigurationException(f"config key 'registry.path' must be a file path, got {path!r}")
        self.path = Path(path).expanduser() if path else default_path()
        self.ttl = _seconds(self.config, "ttl", DEFAULT_TTL)
        self.heartbeat_interval = _seconds(self.config, "heartbeat", self.ttl / 3)
        self.poll_interval = _seconds(self.config, "poll_interval", DEFAULT_POLL_INTERVAL)
        self.lock_timeout = _seconds(self.config, "lock_timeout", DEFAULT_LOCK_TIMEOUT)
        self.instance_id = uuid.uuid4().hex
        self.host = socket.gethostname()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationException(
                f"cannot create the folder of the file registry {self.path}: {exc.strerror or exc}"
            ) from exc
        self._file_lock = filelock.FileLock(str(self.path) + ".lock", timeout=self.lock_timeout)
        self._own: dict[str, list[ChannelAddress]] = {}
        self._watched = WatchList()
        self._lock = threading.RLock()
        self._stat_key: tuple[int, int, int] | None = None
        self._instances: dict[str, Any] = {}
        self._stop = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._watch_thread: threading.Thread | None = None

    # ComponentRegistry

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Write this process's addresses of a component and keep them alive.

        Raises:
            RegistryFileException: the file cannot be written (path and reason named).
        """
        with self._lock:
            self._own[descriptor.name] = list(addresses)
            self._write(raise_errors=True)
            self._start_heartbeat()
        self._push()

    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Remove exactly this process's entries of a component."""
        with self._lock:
            if self._own.pop(descriptor.name, None) is None:
                return
            self._write(raise_errors=False)
        self._push()

    def watch(self, channel: Channel) -> None:
        """Push the component's URL lists to ``channel`` whenever they change."""
        self._watched.add(channel)
        with self._lock:
            if self._watch_thread is None:
                self._watch_thread = threading.Thread(
                    target=self._watch_loop, name="servicewire-file-registry-watch", daemon=True
                )
                self._watch_thread.start()
        self._push()

    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        """Return the live URLs of a component, per channel (the file is read only if it changed)."""
        with self._lock:
            self._refresh()
            return self._addresses(descriptor.name)

    def close(self) -> None:
        """Stop the threads and remove whatever entries this process still has."""
        self._stop.set()
        with self._lock:
            if self._own:
                self._own.clear()
                self._write(raise_errors=False)
        self._watched.clear()
        for thread in (self._heartbeat_thread, self._watch_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)

    # reading

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._stat_key, self._instances = None, {}
            return
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if key != self._stat_key:
            self._instances = self._read()["instances"]
            self._stat_key = key

    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {"version": _VERSION, "instances": {}}
        except OSError as exc:
            logger.warning("cannot read the file registry %s: %s", self.path, exc)
            return {"version": _VERSION, "instances": {}}
        try:
            document = json.loads(text) if text.strip() else {"instances": {}}
            instances = document["instances"]
            if not isinstance(instances, dict) or not all(_valid_entry(e) for e in instances.values()):
                raise ValueError("unexpected structure")
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning(
                "the file registry %s is corrupt (%s); the live processes' next heartbeats rebuild it",
                self.path,
                exc,
            )
            return {"version": _VERSION, "instances": {}}
        return {"version": _VERSION, "instances": instances}

    def _live(self, entry: Mapping[str, Any], now: float) -> bool:
        if now - float(entry["heartbeat"]) > float(entry.get("ttl", self.ttl)):
            return False
        if entry.get("host") == self.host:
            return _process_exists(int(entry["pid"]))
        return True

    def _addresses(self, component: str) -> list[ChannelInstances]:
        now = time.time()
        by_channel: dict[str, list[str]] = {}
        for instance_id in sorted(self._instances):
            entry = self._instances[instance_id]
            if instance_id != self.instance_id and not self._live(entry, now):
                continue
            for address in entry["components"].get(component, []):
                urls = by_channel.setdefault(address["channel"], [])
                if address["uri"] not in urls:
                    urls.append(address["uri"])
        return [ChannelInstances(component, channel, urls) for channel, urls in by_channel.items()]

    # writing

    def _write(self, raise_errors: bool) -> None:
        try:
            with self._file_lock:
                document = self._read()
                instances = document["instances"]
                now = time.time()
                for instance_id in [
                    i for i, e in instances.items() if i != self.instance_id and not self._live(e, now)
                ]:
                    del instances[instance_id]
                if self._own:
                    instances[self.instance_id] = {
                        "host": self.host,
                        "pid": os.getpid(),
                        "heartbeat": now,
                        "ttl": self.ttl,
                        "components": {
                            name: [{"channel": a.channel, "uri": a.uri} for a in addresses]
                            for name, addresses in self._own.items()
                        },
                    }
                else:
                    instances.pop(self.instance_id, None)
                self._replace(document)
        except (OSError, filelock.Timeout) as exc:
            reason = (
                f"lock held longer than {self.lock_timeout:g}s" if isinstance(exc, filelock.Timeout) else exc
            )
            message = (
                f"cannot write the file registry {self.path}: {getattr(exc, 'strerror', None) or reason}"
            )
            if raise_errors:
                raise RegistryFileException(message) from exc
            logger.warning("%s", message)

    def _replace(self, document: Mapping[str, Any]) -> None:
        handle, temporary = tempfile.mkstemp(prefix=".registry-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(document, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    # threads

    def _start_heartbeat(self) -> None:
        if self._heartbeat_thread is None:
            self._heartbeat_thread = threading.Thread(
                target=self._heartbeat_loop, name="servicewire-file-registry-heartbeat", daemon=True
            )
            self._heartbeat_thread.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._lock:
                if self._own:
                    self._write(raise_errors=False)

    def _watch_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self._push()
            except Exception:  # the watcher must outlive a bad read or a failing channel
                logger.exception("file registry watcher failed")

    def _push(self) -> None:
        """Tell every watched channel its component's URLs, when they changed."""
        with self._lock:
            self._refresh()
        # Called without holding self._lock: WatchList takes its own lock, then this one.
        self._watched.push(self._current_addresses)

    def _current_addresses(self, component: str) -> list[ChannelInstances]:
        with self._lock:
            return self._addresses(component)


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("pid"), int)
        and isinstance(entry.get("heartbeat"), (int, float))
        and isinstance(entry.get("components"), dict)
        and all(
            isinstance(addresses, list)
            and all(
                isinstance(a, dict) and isinstance(a.get("channel"), str) and isinstance(a.get("uri"), str)
                for a in addresses
            )
            for addresses in entry["components"].values()
        )
    )


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child that its parent has not reaped yet is a zombie: it serves nothing.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
