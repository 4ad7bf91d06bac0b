"""The etcd registry: discovery across machines on etcd's v3 API, through etcd3gw.

Config::

    {"registry": {"type": "etcd",
                  "endpoints": ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
                  "prefix": "/servicewire/",
                  "ttl": 10,                 # lease TTL, seconds
                  "timeout": 5,              # seconds per etcd request
                  "user": "svc", "password": "...",                  # optional
                  "ca_cert": "ca.pem", "cert_cert": "c.pem", "cert_key": "k.pem"}}  # optional TLS

Keys: ``{prefix}{component}/{channel}/{instance id}`` holding ``{"uri": ..., "host": ...,
"pid": ...}``, all attached to one lease per process, kept alive by a background thread (every
third of the TTL). If the lease expired (the process was paused or cut off longer than the TTL),
the process registers again under a new lease. Deregistration deletes the process's keys; closing
revokes the lease.

Discovery reads the prefix once, then keeps a local copy current with a watch on the prefix; a
watcher thread pushes changed URL lists to the watched channels. When the watch breaks (etcd
restarted, connection lost), the thread reconnects, re-reads the whole prefix (so no change is
missed) and watches again from the revision it read. Calls never ask etcd anything: they use the
URL lists their channels hold. Several endpoints serve one cluster: when one stops answering,
the next is used.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

try:
    from etcd3gw import exceptions as etcd_exceptions
    from etcd3gw.client import Etcd3Client
    from etcd3gw.lease import Lease
except ImportError as missing:  # an optional dependency: say how to get it
    raise ImportError(
        "the etcd registry needs etcd3gw: install servicewire's etcd extra "
        "(pip install '.[etcd]' in a checkout) or etcd3gw itself"
    ) from missing

from container import (
    Channel,
    ChannelAddress,
    ChannelInstances,
    ComponentDescriptor,
    ComponentRegistry,
    ConfigurationException,
    ServiceCommunicationException,
)
from container.plugin import WatchList, redact_credentials

logger = logging.getLogger("servicewire.registry.etcd")

DEFAULT_PREFIX = "/servicewire/"
DEFAULT_TTL = 10
DEFAULT_TIMEOUT = 5.0

_T = TypeVar("_T")

_UNREACHABLE = (
    etcd_exceptions.ConnectionFailedError,
    etcd_exceptions.ConnectionTimeoutError,
    requests.ConnectionError,
    requests.Timeout,
)


class EtcdRegistryException(ServiceCommunicationException):
    """No etcd endpoint answered (the message lists them and the last error).

    A communication failure (``sent`` False): a proxy's first call keeps asking until its
    deadline while etcd is unreachable.
    """

    sent_by_default = False


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _prefix_end(prefix: str) -> str:
    # The range [prefix, prefix_end) is every key starting with prefix.
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class EtcdComponentRegistry(ComponentRegistry):
    """Components registered in etcd under a key prefix, with one lease per process.

    Args:
        config: the ``registry`` config section.

    Raises:
        ConfigurationException: a setting is missing or has a bad value.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        endpoints = self.config.get("endpoints", ["http://127.0.0.1:2379"])
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if (
            not isinstance(endpoints, (list, tuple))
            or not endpoints
            or not all(isinstance(e, str) for e in endpoints)
        ):
            raise ConfigurationException(
                "config key 'registry.endpoints' must be a list of URLs, got "
                + redact_credentials(repr(endpoints))
            )
        self.prefix = str(self.config.get("prefix", DEFAULT_PREFIX))
        if not self.prefix.endswith("/"):
            self.prefix += "/"
        self.ttl = self._number("ttl", DEFAULT_TTL)
        self.timeout = self._number("timeout", DEFAULT_TIMEOUT)
        self.endpoints = list(endpoints)
        self._clients = [self._client(endpoint) for endpoint in self.endpoints]
        self._current = 0
        self.instance_id = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._own: dict[str, list[ChannelAddress]] = {}
        self._lease_id: int | None = None
        self._cache: dict[str, str] = {}
        self._cache_ready = False
        self._watched = WatchList()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keepalive_thread: threading.Thread | None = None
        self._watch_thread: threading.Thread | None = None
        self._stream: requests.Response | None = None

    def _number(self, key: str, default: float) -> float:
        value = self.config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigurationException(
                f"config key 'registry.{key}' must be a positive number, got {value!r}"
            )
        return float(value)

    def _client(self, endpoint: str) -> Etcd3Client:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationException(
                f"config key 'registry.endpoints' holds {redact_credentials(repr(endpoint))}, "
                "not an http(s) URL"
            )
        client = Etcd3Client(
            host=parts.hostname,
            port=parts.port or 2379,
            protocol=parts.scheme,
            ca_cert=self.config.get("ca_cert"),
            cert_key=self.config.get("cert_key"),
            cert_cert=self.config.get("cert_cert"),
            timeout=self.timeout,
            api_path="/v3/",
        )
        client.session.trust_env = False
        return client

    # talking to the cluster

    def _call(self, operation: Callable[[Etcd3Client], _T]) -> _T:
        """Run ``operation`` on the current endpoint, moving to the next ones when unreachable."""
        errors = []
        for attempt in range(len(self._clients)):
            index = (self._current + attempt) % len(self._clients)
            client = self._clients[index]
            try:
                self._authenticate(client)
                result = operation(client)
            except _UNREACHABLE as exc:
                errors.append(f"{self.endpoints[index]}: {exc}")
                continue
            self._current = index
            return result
        raise EtcdRegistryException(f"no etcd endpoint answered: {'; '.join(errors)}")

    def _authenticate(self, client: Etcd3Client) -> None:
        user = self.config.get("user")
        if not user or "Authorization" in client.session.headers:
            return
        answer = client.post(
            client.get_url("/auth/authenticate"),
            json={"name": user, "password": self.config.get("password", "")},
        )
        client.session.headers["Authorization"] = answer["token"]

    # ComponentRegistry

    def register(self, descriptor: ComponentDescriptor[Any], addresses: list[ChannelAddress]) -> None:
        """Put this process's addresses of a component under its lease and keep the lease alive.

        Raises:
            EtcdRegistryException: no endpoint answered.
        """
        with self._lock:
            self._own[descriptor.name] = list(addresses)
            if self._lease_id is None:
                self._lease_id = self._grant()
            for address in addresses:
                self._put(descriptor.name, address, self._lease_id)
            if self._keepalive_thread is None:
                self._keepalive_thread = threading.Thread(
                    target=self._keepalive_loop, name="servicewire-etcd-keepalive", daemon=True
                )
                self._keepalive_thread.start()

    def _grant(self) -> int:
        return self._call(lambda client: client.lease(int(max(1, round(self.ttl)))).id)

    def _put(self, component: str, address: ChannelAddress, lease_id: int) -> None:
        key = self._key(component, address.channel)
        value = json.dumps({"uri": address.uri, "host": self.host, "pid": os.getpid()})
        self._call(lambda client: client.put(key, value, lease=Lease(lease_id, client)))
        with self._lock:
            if self._cache_ready:  # read your own writes before the watch event arrives
                self._cache[key] = address.uri

    def _key(self, component: str, channel: str) -> str:
        return f"{self.prefix}{component}/{channel}/{self.instance_id}"

    def deregister(self, descriptor: ComponentDescriptor[Any]) -> None:
        """Delete exactly this process's keys of a component."""
        with self._lock:
            addresses = self._own.pop(descriptor.name, None)
        for address in addresses or []:
            key = self._key(descriptor.name, address.channel)
            try:
                self._call(lambda client, key=key: client.delete(key))  # type: ignore[misc]
            except EtcdRegistryException as exc:
                logger.warning("deregistering %s: %s (its lease will expire)", key, _said(exc))
            with self._lock:
                self._cache.pop(key, None)
        self._push()

    def watch(self, channel: Channel) -> None:
        """Keep ``channel``'s URLs current through the watch on the prefix."""
        self._watched.add(channel)
        with self._lock:
            if self._watch_thread is None:
                self._watch_thread = threading.Thread(
                    target=self._watch_loop, name="servicewire-etcd-watch", daemon=True
                )
                self._watch_thread.start()
        self._push()

    def get_addresses(self, descriptor: ComponentDescriptor[Any]) -> list[ChannelInstances]:
        """Return the component's URLs per channel (from the watched copy once it exists).

        Raises:
            EtcdRegistryException: no endpoint answered and nothing is known yet.
        """
        with self._lock:
            if not self._cache_ready or self._watch_thread is None:
                # Without a watch the copy would go stale: read the prefix each time.
                self._load()
            return self._addresses(descriptor.name)

    def list_addresses(self) -> list[ChannelInstances]:
        """Return the URLs of every component under the prefix, per component and channel.

        Raises:
            EtcdRegistryException: no endpoint answered and nothing is known yet.
        """
        with self._lock:
            if not self._cache_ready or self._watch_thread is None:
                self._load()
            names = sorted({key[len(self.prefix) :].split("/", 1)[0] for key in self._cache})
            return [address for name in names for address in self._addresses(name) if address.urls]

    def close(self) -> None:
        """Stop the threads, delete this process's keys and revoke its lease."""
        self._stop.set()
        with self._lock:
            lease_id, self._lease_id = self._lease_id, None
            self._own.clear()
        self._watched.clear()
        if lease_id is not None:
            try:
                self._call(lambda client: Lease(lease_id, client).revoke())
            except (EtcdRegistryException, etcd_exceptions.Etcd3Exception) as exc:
                logger.warning("revoking lease %s: %s (it will expire)", lease_id, _said(exc))
        self._interrupt_stream()
        for thread in (self._keepalive_thread, self._watch_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        for client in self._clients:
            client.session.close()

    # the local copy of the prefix

    def _load(self) -> int:
        """Read the whole prefix into the cache; return the revision read."""
        answer = self._call(
            lambda client: client.post(
                client.get_url("/kv/range"),
                json={"key": _b64(self.prefix), "range_end": _b64(_prefix_end(self.prefix))},
            )
        )
        cache = {}
        for kv in answer.get("kvs", []):
            uri = _uri(base64.b64decode(kv.get("value", "")))
            if uri is not None:
                cache[base64.b64decode(kv["key"]).decode()] = uri
        with self._lock:
            self._cache = cache
            self._cache_ready = True
        return int(answer["header"]["revision"])

    def _addresses(self, component: str) -> list[ChannelInstances]:
        start = f"{self.prefix}{component}/"
        by_channel: dict[str, list[str]] = {}
        for key in sorted(self._cache):
            if key.startswith(start):
                channel = key[len(start) :].split("/", 1)[0]
                urls = by_channel.setdefault(channel, [])
                if self._cache[key] not in urls:
                    urls.append(self._cache[key])
        return [ChannelInstances(component, channel, urls) for channel, urls in by_channel.items()]

    def _push(self) -> None:
        if self._cache_ready:
            # Called without holding self._lock: WatchList takes its own lock, then this one.
            self._watched.push(self._current_addresses)

    def _current_addresses(self, component: str) -> list[ChannelInstances]:
        with self._lock:
            return self._addresses(component)

    # threads

    def _keepalive_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            with self._lock:
                lease_id = self._lease_id
            if lease_id is None:
                continue
            try:
                remaining = self._refresh_lease(lease_id)
            except (EtcdRegistryException, etcd_exceptions.Etcd3Exception) as exc:
                logger.warning("lease keep-alive failed: %s", _said(exc))
                continue
            if remaining <= 0:
                self._register_again()

    def _refresh_lease(self, lease_id: int) -> int:
        return self._call(lambda client: Lease(lease_id, client).refresh())

    def _register_again(self) -> None:
        logger.warning("the lease expired; registering again under a new lease")
        with self._lock:
            try:
                self._lease_id = self._grant()
                for component, addresses in self._own.items():
                    for address in addresses:
                        self._put(component, address, self._lease_id)
            except (EtcdRegistryException, etcd_exceptions.Etcd3Exception) as exc:
                logger.warning("registering again failed: %s; retrying at the next keep-alive", _said(exc))

    def _watch_loop(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                revision = self._load()
                self._push()
                delay = 0.1
                self._follow(revision + 1)
            except Exception as exc:  # etcd down, stream broken: reconnect and re-read
                if self._stop.is_set():
                    return
                logger.info("etcd watch interrupted (%s); reconnecting in %.1fs", _said(exc), delay)
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 2.0)

    def _follow(self, start_revision: int) -> None:
        """Stream watch events from ``start_revision`` until the stream ends."""
        client = self._clients[self._current]
        self._authenticate(client)
        request = {
            "create_request": {
                "key": _b64(self.prefix),
                "range_end": _b64(_prefix_end(self.prefix)),
                "start_revision": start_revision,
            }
        }
        response = client.session.post(
            client.get_url("/watch"), json=request, stream=True, timeout=(self.timeout, None)
        )
        self._stream = response
        try:
            if response.status_code != 200:
                raise EtcdRegistryException(f"watch refused with status {response.status_code}")
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line:
                    self._apply(json.loads(line))
        finally:
            self._stream = None
            response.close()

    def _apply(self, message: Mapping[str, Any]) -> None:
        result = message.get("result") or {}
        if message.get("error") or result.get("canceled"):
            raise EtcdRegistryException(f"watch ended: {message}")
        events = result.get("events") or []
        if not events:
            return
        with self._lock:
            for event in events:
                kv = event["kv"]
                key = base64.b64decode(kv["key"]).decode()
                if event.get("type") == "DELETE":
                    self._cache.pop(key, None)
                else:
                    uri = _uri(base64.b64decode(kv.get("value", "")))
                    if uri is not None:
                        self._cache[key] = uri
        self._push()

    def _interrupt_stream(self) -> None:
        response = self._stream
        if response is None:
            return
        try:
            descriptor = response.raw._fp.fileno()  # type: ignore[union-attr]
            raw_socket = socket.fromfd(descriptor, socket.AF_INET, socket.SOCK_STREAM)
            raw_socket.shutdown(socket.SHUT_RDWR)
            raw_socket.close()
        except (OSError, AttributeError, ValueError):
            pass


def _uri(value: bytes) -> str | None:
    try:
        decoded = json.loads(value)
        uri = decoded["uri"]
    except (ValueError, KeyError, TypeError):
        logger.warning("ignoring a malformed registry value %s", redact_credentials(repr(value[:100])))
        return None
    return uri if isinstance(uri, str) else None


def _said(exc: BaseException) -> str:
    """An exception's text for a log line: what etcd3gw or requests said, credentials redacted."""
    return redact_credentials(str(exc))
