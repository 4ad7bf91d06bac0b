"""The file registry: one JSON document shared by the processes of a host (or a shared disk).

Config::

    {"registry": {"type": "file", "path": "/run/user/1000/servicewire/registry.json",
                  "ttl": 10, "heartbeat": 3.3, "poll_interval": 0.1, "lock_timeout": 10,
                  "mode": "0600", "max_size": 16777216}}

Document (``instances`` keyed by a random id per registry object, that is per process)::

    {"version": 1,
     "instances": {"<id>": {"host": "web-1", "pid": 4242, "heartbeat": 1764250000.5, "ttl": 10,
                            "components": {"hello-component": [
                                {"channel": "dispatch-json", "uri": "http://10.0.0.5:8000"}]}}}}

Writers hold an ``flock`` lock on a file beside it and replace the file atomically (a temporary
file, then ``os.replace``). Each process renews its heartbeat in a background thread well
within the TTL. Readers notice changes by ``stat`` (a full read only when the file changed); a
watcher thread pushes new URL lists to the watched channels. An entry whose TTL ran out, or whose
process no longer exists on this host, is ignored by readers and dropped by the next writer.
Heartbeats compare wall-clock times, so every process must share one clock: one host, or hosts
sharing a disk with synchronised clocks.

Against its neighbours (see docs/security.md): a reader keeps the last good view when the file
cannot be read, is not JSON, has the wrong shape or is larger than ``max_size``, and says so once;
entries of the wrong shape are skipped one by one; a writer that finds the file damaged writes
the last good view back (a process with entries of its own does so at once). The lock and data
files are created with ``mode`` (0600: only this user) in a folder that is checked when the
registry is made: it must be a writable folder that other users cannot replace files in. Both
files are opened without following a link or blocking, and used only when they are this user's
regular files (registry/_files.py); a file that is not is refused, with the reason, at boot or
(planted later) by readers and writers alike.
"""

from __future__ import annotations

import logging
import os
import socket
import stat as stat_module
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from container import (
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ComponentRegistry,
    ConfigurationException,
    LocalServiceException,
)
from container.plugin import WatchList
from registry._files import FileLock, LockTimeout, UnsafeFile, open_checked

logger = logging.getLogger("servicewire.registry.file")

DEFAULT_TTL = 10.0
"""Seconds after its last heartbeat that an entry counts as dead."""

DEFAULT_POLL_INTERVAL = 0.1
"""Seconds between two checks of the file (a stat) by the watcher thread."""

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a writer waits for the file lock."""

DEFAULT_MODE = 0o600
"""Permissions of the lock and data files: only this user reads, writes and locks them."""

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
"""Bytes: a larger file is not read (10,000 instances take about 2.5 MB)."""

_VERSION = 1


class RegistryFileException(LocalServiceException):
    """The registry file cannot be written (the message names the path and the reason)."""


# gc=False: a document of 10,000 entries decodes in a third of the time when the garbage
# collector does not track (and scan) every entry; they hold only strings, numbers and lists.
class _Address(msgspec.Struct, frozen=True, gc=False):
    channel: str
    uri: str


class _Entry(msgspec.Struct, kw_only=True, gc=False):
    host: str = ""
    pid: Annotated[int, msgspec.Meta(gt=0)]
    heartbeat: float
    ttl: float | None = None
    components: dict[str, list[_Address]]


class _Document(msgspec.Struct, kw_only=True):
    version: int = _VERSION
    instances: dict[str, _Entry]


class _LooseDocument(msgspec.Struct, kw_only=True):
    instances: dict[str, msgspec.Raw]


_decode_document = msgspec.json.Decoder(_Document).decode
_decode_loose = msgspec.json.Decoder(_LooseDocument).decode
_decode_entry = msgspec.json.Decoder(_Entry).decode
_encode = msgspec.json.Encoder().encode


class _Damaged(Exception):
    """The file cannot be used as it is; the message says why."""


class _Refused(_Damaged):
    """The file is not this user's regular file (planted, linked, a FIFO); the message says why."""


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


def _mode(config: Mapping[str, Any]) -> int:
    value = config.get("mode", DEFAULT_MODE)
    try:
        mode = int(value, 8) if isinstance(value, str) else value
    except ValueError:
        mode = None
    if isinstance(mode, bool) or not isinstance(mode, int) or mode & ~0o660 or mode & 0o600 != 0o600:
        # Nothing for other users: whoever can open the lock file, even to read, can hold the
        # lock and stop every heartbeat.
        raise ConfigurationException(
            f"config key 'registry.mode' must be file permissions such as '0600' or '0660' "
            f"(the owner reads and writes, a group may; nothing for others, no execute bits), got {value!r}"
        )
    return mode


def _max_size(config: Mapping[str, Any]) -> int:
    value = config.get("max_size", DEFAULT_MAX_SIZE)
    if isinstance(value, bool) or not isinstance(value, int) or value < 4096:
        raise ConfigurationException(
            f"config key 'registry.max_size' must be a number of bytes of at least 4096, got {value!r}"
        )
    return value


class FileComponentRegistry(ComponentRegistry):
    """Components registered in a JSON file shared by the processes of a host.

    Args:
        config: the ``registry`` config section (``path``, ``ttl``, ``heartbeat``,
            ``poll_interval``, ``lock_timeout``, ``mode``, ``max_size``; all optional).

    Raises:
        ConfigurationException: a setting has a bad value, or the file's folder cannot be
            created or used (not a folder, not writable, others may replace files in it, a
            file system that cannot hold the lock file).
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
        self.mode = _mode(self.config)
        self.max_size = _max_size(self.config)
        self.instance_id = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._lock_path = str(self.path) + ".lock"
        self._prepare_folder()
        self._file_lock = FileLock(self._lock_path, self.mode, self.lock_timeout)
        self._own: dict[str, list[ChannelAddress]] = {}
        self._watched = WatchList()
        self._lock = threading.RLock()
        self._stat_key: tuple[int, int, int] | None = None
        self._instances: dict[str, _Entry] = {}
        self._by_component: dict[str, list[tuple[str, _Entry, list[_Address]]]] | None = None
        self._damage: str | None = None
        self._write_problem: str | None = None
        self._skipped = 0
        self._stop = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._watch_thread: threading.Thread | None = None

    def _prepare_folder(self) -> None:
        """Create the folder (owner only, as ``mode`` says) and check it can hold the registry.

        Raises:
            ConfigurationException: the folder cannot be created or used, or the lock or data
                file there is not this user's regular file.
        """
        folder = self.path.parent
        folder_mode = self.mode | ((self.mode & 0o444) >> 2)  # rw -> rwx for the same users
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=folder_mode)
            found = folder.stat()
        except OSError as exc:
            raise ConfigurationException(
                f"cannot create the folder of the file registry {self.path}: {exc.strerror or exc}"
            ) from exc
        if not stat_module.S_ISDIR(found.st_mode):
            raise ConfigurationException(f"the file registry's folder {folder} is not a folder")
        if found.st_mode & stat_module.S_IWOTH and not found.st_mode & stat_module.S_ISVTX:
            raise ConfigurationException(
                f"the file registry's folder {folder} is writable by every user without the sticky "
                "bit: anyone could replace the registry file; choose a folder of your own"
            )
        if found.st_uid not in (os.geteuid(), 0) and not (
            self.mode & 0o070 and found.st_gid in {os.getegid(), *os.getgroups()}
        ):
            # Whoever owns the folder may remove and replace any file in it, sticky bit or not.
            raise ConfigurationException(
                f"the file registry's folder {folder} belongs to uid {found.st_uid}, not to this user "
                f"(uid {os.geteuid()}) or root: its owner could replace the registry files; choose a "
                "folder of your own (or share a group's folder with registry.mode '0660')"
            )
        try:
            # Fails at once where no lock file can live (/proc, a read-only mount, no
            # permission), or where a neighbour planted one, instead of at the first registration.
            handle = open_checked(self._lock_path, os.O_RDWR | os.O_CREAT, self.mode, content=False)
        except UnsafeFile as exc:
            raise ConfigurationException(
                f"the file registry cannot use its lock file {self._lock_path}: {exc}; remove it, "
                "or choose a folder of your own"
            ) from None
        except OSError as exc:
            raise ConfigurationException(
                f"the file registry cannot use the folder {folder}: cannot create "
                f"{self._lock_path}: {exc.strerror or exc}"
            ) from exc
        try:
            lock_stat = os.fstat(handle)
            if lock_stat.st_uid == os.geteuid() and stat_module.S_IMODE(lock_stat.st_mode) != self.mode:
                # The umask narrowed it, or an older version (0644) or a hand widened it. Through
                # the checked descriptor: never through a link to some other file.
                os.fchmod(handle, self.mode)
        except OSError:
            pass
        finally:
            os.close(handle)
        try:
            # content=False: a file of ours that is merely too open is replaced by the next writer.
            os.close(open_checked(str(self.path), os.O_RDONLY, self.mode, content=False))
        except UnsafeFile as exc:
            raise ConfigurationException(
                f"the file registry cannot use {self.path}: {exc}; remove it, or choose a folder of your own"
            ) from None
        except OSError:
            pass  # missing (the first writer creates it) or unreadable (readers say so, writers repair)

    # ComponentRegistry

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Write this process's addresses of a component and keep them alive.

        Raises:
            RegistryFileException: the file cannot be written (path and reason named), or the
                document would be larger than ``max_size``.
        """
        with self._lock:
            self._own[descriptor.name] = list(addresses)
            try:
                self._write(raise_errors=True)
            except RegistryFileException:
                del self._own[descriptor.name]
                raise
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

    def list_addresses(self) -> list[ChannelInstances]:
        """Return the live URLs of every component in the file, per component and channel."""
        with self._lock:
            self._refresh()
            listed = [address for name in sorted(self._index()) for address in self._addresses(name)]
        return [address for address in listed if address.urls]

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
        """Take the file's entries when it changed; keep the last good view when it is damaged."""
        try:
            found = os.lstat(self.path)  # a link is not followed here either: _load refuses it
        except FileNotFoundError:
            self._stat_key = None
            self._use({})
            return
        except OSError as exc:
            self._damaged(_Damaged(f"cannot stat it: {exc.strerror or exc}"))
            return
        key = (found.st_mtime_ns, found.st_size, found.st_ino)
        if key == self._stat_key:
            return
        self._stat_key = key
        try:
            instances = self._load(found.st_size)
        except _Damaged as exc:
            self._damaged(exc)
            return
        self._use(instances)

    def _load(self, size: int) -> dict[str, _Entry]:
        """Read and decode the file; entries of the wrong shape are skipped.

        Raises:
            _Damaged: the file is too large, unreadable, not JSON, or not a registry document.
        """
        if size > self.max_size:
            raise _Damaged(f"it is {size} bytes, more than registry.max_size ({self.max_size})")
        try:
            handle = open_checked(str(self.path), os.O_RDONLY, self.mode, content=True)
        except FileNotFoundError:
            return {}
        except UnsafeFile as exc:
            raise _Refused(str(exc)) from None
        except OSError as exc:
            raise _Damaged(f"cannot read it: {exc.strerror or exc}") from None
        try:
            with os.fdopen(handle, "rb") as file:
                data = file.read(self.max_size + 1)
        except OSError as exc:
            raise _Damaged(f"cannot read it: {exc.strerror or exc}") from None
        if len(data) > self.max_size:
            raise _Damaged(f"it grew past registry.max_size ({self.max_size} bytes)")
        try:
            instances = _decode_document(data).instances
            self._skipped = 0
            return instances
        except msgspec.ValidationError:
            pass  # some entries may still be good: salvage them one by one below
        except msgspec.DecodeError as exc:
            raise _Damaged(f"it is not JSON ({exc})") from None
        try:
            loose = _decode_loose(data).instances
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _Damaged(f"it is not a registry document ({exc})") from None
        instances = {}
        for instance_id, raw in loose.items():
            try:
                instances[instance_id] = _decode_entry(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        skipped = len(loose) - len(instances)
        if self._skipped != skipped:
            logger.warning(
                "the file registry %s holds %d entries of the wrong shape (of %d): they are ignored, "
                "writers drop them",
                self.path,
                skipped,
                len(loose),
            )
            self._skipped = skipped
        return instances

    def _damaged(self, problem: _Damaged) -> None:
        reason = str(problem)
        if self._damage != reason:
            logger.warning(
                "the file registry %s is %s: %s; keeping the last good view, writers repair it",
                self.path,
                "refused" if isinstance(problem, _Refused) else "damaged",
                reason,
            )
        self._damage = reason

    def _use(self, instances: dict[str, _Entry]) -> None:
        if self._damage is not None:
            logger.info("the file registry %s is readable again", self.path)
            self._damage = None
        self._instances = instances
        self._by_component = None  # indexed when next asked: a heartbeat does not need it

    def _index(self) -> dict[str, list[tuple[str, _Entry, list[_Address]]]]:
        by_component = self._by_component
        if by_component is None:
            by_component = {}
            for instance_id, entry in self._instances.items():
                for component, addresses in entry.components.items():
                    found = by_component.get(component)
                    if found is None:
                        found = by_component[component] = []
                    found.append((instance_id, entry, addresses))
            self._by_component = by_component
        return by_component

    def _live(self, entry: _Entry, now: float) -> bool:
        if now - entry.heartbeat > (entry.ttl if entry.ttl is not None else self.ttl):
            return False
        if entry.host == self.host:
            # Checked on every look-up (the watcher's poll included): a killed process leaves
            # the URL lists within one poll interval. Only entries offering the component asked
            # for are checked, so the cost follows that component's instances, not the file.
            return _process_exists(entry.pid)
        return True

    def _addresses(self, component: str) -> list[ChannelInstances]:
        now = time.time()
        by_channel: dict[str, list[str]] = {}
        for instance_id, entry, addresses in self._index().get(component, ()):
            if instance_id != self.instance_id and not self._live(entry, now):
                continue
            for address in addresses:
                urls = by_channel.setdefault(address.channel, [])
                if address.uri not in urls:
                    urls.append(address.uri)
        return [ChannelInstances(component, channel, urls) for channel, urls in by_channel.items()]

    # writing

    def _write(self, raise_errors: bool) -> None:
        try:
            with self._file_lock:
                refused = None
                try:
                    found = os.lstat(self.path)
                    instances = dict(self._load(found.st_size))
                except FileNotFoundError:
                    instances = {}
                except _Damaged as exc:
                    self._damaged(exc)
                    refused = exc if isinstance(exc, _Refused) else None
                    # Write the last good view back: os.replace swaps the name, so a planted
                    # link, FIFO or file is replaced, never written through.
                    instances = dict(self._instances)
                now = time.time()
                gone = [i for i, e in instances.items() if i != self.instance_id and not self._keeps(e, now)]
                for instance_id in gone:
                    del instances[instance_id]
                if self._own:
                    instances[self.instance_id] = _Entry(
                        host=self.host,
                        pid=os.getpid(),
                        heartbeat=now,
                        ttl=self.ttl,
                        components={
                            name: [_Address(a.channel, a.uri) for a in addresses]
                            for name, addresses in self._own.items()
                        },
                    )
                else:
                    instances.pop(self.instance_id, None)
                data = _encode(_Document(instances=instances))
                if len(data) > self.max_size:
                    raise RegistryFileException(
                        f"cannot write the file registry {self.path}: the document would be {len(data)} "
                        f"bytes, more than registry.max_size ({self.max_size})"
                    )
                try:
                    self._replace(data)
                except OSError as exc:
                    if refused is None:
                        raise
                    # Another user's file in a sticky folder cannot be replaced: say what it is.
                    raise RegistryFileException(
                        f"cannot write the file registry {self.path}: the file there is refused "
                        f"({refused}) and cannot be replaced ({_reason(exc)}); remove it, or choose a "
                        "folder of your own"
                    ) from exc
                written = os.lstat(self.path)
            self._stat_key = (written.st_mtime_ns, written.st_size, written.st_ino)
            self._use(instances)
        except RegistryFileException as exc:
            self._write_failed(str(exc), raise_errors, exc)
            return
        except UnsafeFile as exc:
            message = (
                f"cannot write the file registry {self.path}: its lock file {self._lock_path} is "
                f"refused: {exc}; remove it, or choose a folder of your own"
            )
            self._write_failed(message, raise_errors, exc)
            return
        except (OSError, LockTimeout) as exc:
            message = f"cannot write the file registry {self.path}: {_reason(exc)}"
            self._write_failed(message, raise_errors, exc)
            return
        if self._write_problem is not None:
            logger.info("the file registry %s is written again", self.path)
            self._write_problem = None

    def _write_failed(self, message: str, raise_errors: bool, exc: Exception) -> None:
        """Raise (a registration), or log a heartbeat's failure once until it changes or heals."""
        if raise_errors:
            if isinstance(exc, RegistryFileException):
                raise exc
            raise RegistryFileException(message) from exc
        if self._write_problem != message:
            logger.warning("%s", message)
        self._write_problem = message

    def _keeps(self, entry: _Entry, now: float) -> bool:
        # The TTL and a cheap pid check only (no /proc read): a heartbeat stays cheap with
        # thousands of entries; a reader still checks what it offers in full.
        if now - entry.heartbeat > (entry.ttl if entry.ttl is not None else self.ttl):
            return False
        if entry.host == self.host:
            try:
                os.kill(entry.pid, 0)
            except ProcessLookupError:
                return False
            except OSError:
                return True
        return True

    def _replace(self, data: bytes) -> None:
        # No fsync: entries live for a TTL of seconds and every process that wrote them is
        # gone after a crash of the machine, so durability buys nothing; atomicity for
        # readers comes from os.replace.
        handle, temporary = tempfile.mkstemp(prefix=".registry-", suffix=".tmp", dir=self.path.parent)
        try:
            if self.mode != 0o600:
                os.fchmod(handle, self.mode)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

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
            if self._damage is not None and self._own:
                self._write(raise_errors=False)  # repair now rather than at the next heartbeat
        # Called without holding self._lock: WatchList takes its own lock, then this one.
        self._watched.push(self._current_addresses)

    def _current_addresses(self, component: str) -> list[ChannelInstances]:
        with self._lock:
            return self._addresses(component)


def _reason(exc: Exception) -> str:
    """Why a write failed, in our words where the OS's vary."""
    if isinstance(exc, IsADirectoryError):
        return "the path is a directory, not a file"
    return getattr(exc, "strerror", None) or str(exc)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    # A killed child that its parent has not reaped yet is a zombie: it serves nothing.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
