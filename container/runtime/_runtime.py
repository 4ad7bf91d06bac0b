"""The runtime: the state of one ServiceContainer, in one object instead of module-level tables.

A :class:`Runtime` holds what a container's parts share and what used to be kept per process:
the catalog of what the container declares and hosts, the plugins registered in code, the
in-process address space of the ``local`` channel, the managers that :func:`~container.connect`
and :class:`~container.ServiceClient` share, and the set of refused URLs already logged. Each
ServiceContainer makes its own, so two containers in one process see nothing of each other;
containers that should see each other (a test's server and client on the ``local`` channel)
are given one runtime. Only pure caches stay at module level: the installed entry points, the
generated proxy classes, the codec's decoders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

from ..config._plugins import PluginGroup
from ..config._runtime import AddressSpace
from ..config._settings import SECTIONS
from ..config._workers import Workers
from ..declarations._descriptors import Catalog
from ._plugins import CHANNELS, REGISTRIES


class Closable(Protocol):
    """What a shared manager must offer its table: ``close()``."""

    def close(self) -> None:
        """Release what it holds."""


_M = TypeVar("_M", bound=Closable)


class _Share:
    """One configuration's manager (and the container that made it), and how many use it."""

    def __init__(self, made: tuple[Any, Closable]) -> None:
        self.container, self.manager = made
        self.users = 0


class SharedClients:
    """The managers :func:`~container.connect` and :class:`~container.ServiceClient` share.

    One per configuration: every user of an equal configuration gets the same manager, which
    closes with its last user. ``connect`` counts as one user per configuration until
    :meth:`close_connections`.
    """

    def __init__(self) -> None:
        self._shared: dict[str, _Share] = {}
        self._connected: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def key(config: Mapping[str, Any]) -> str:
        """Return the key of a configuration: equal configurations have equal keys."""
        return json.dumps(config, sort_keys=True, default=repr)

    def acquire(
        self, config: Mapping[str, Any], make: Callable[[Mapping[str, Any]], tuple[Any, _M]]
    ) -> tuple[str, Any, _M]:
        """Take a share of the configuration's manager, made by ``make`` when it is the first.

        Returns:
            The key to release, the container and the manager.

        Raises:
            ConfigurationException: ``make`` refused the configuration (nothing is kept).
        """
        key = self.key(config)
        with self._lock:
            share = self._shared.get(key)
            if share is None:
                share = _Share(make(config))  # validates the config: a bad one raises and keeps nothing
                self._shared[key] = share
            share.users += 1
            return key, share.container, share.manager  # type: ignore[return-value]

    def connect(
        self, config: Mapping[str, Any], make: Callable[[Mapping[str, Any]], tuple[Any, _M]]
    ) -> _M:
        """Return the configuration's manager, counting ``connect`` as one user of it."""
        key = self.key(config)
        with self._lock:
            share = self._shared.get(key)
            if share is None:
                share = _Share(make(config))
                self._shared[key] = share
            if key not in self._connected:
                self._connected.add(key)
                share.users += 1
            return share.manager  # type: ignore[return-value]

    def release(self, key: str) -> None:
        """Give a share back; the manager closes with its last user."""
        with self._lock:
            share = self._shared.get(key)
            if share is None:
                return
            share.users -= 1
            if share.users > 0:
                return
            del self._shared[key]
        share.manager.close()

    def close_connections(self) -> None:
        """Release what :meth:`connect` took (the managers close unless a client still uses them)."""
        with self._lock:
            keys = list(self._connected)
            self._connected.clear()
        for key in keys:
            self.release(key)

    def __len__(self) -> int:
        return len(self._shared)


@attrs.define(eq=False, repr=False)
class Runtime:
    """The state one ServiceContainer owns (or several, when they are given the same one).

    A ServiceContainer makes one when none is given; give one explicitly to share it, the
    dependency-injector way::

        runtime = Runtime()
        server = ServiceContainer(config=..., runtime=providers.Object(runtime))
        client = ServiceContainer(config=..., runtime=providers.Object(runtime))

    Plugins receive it as ``settings.runtime`` and use the parts the plugin API documents
    (:attr:`addresses`).

    Attributes:
        channels: the channel plugins: registrations of this runtime over the process's
            entry points and ``@channel`` classes (``runtime.channels.register(name, cls)``).
        registries: the registry plugins, likewise.
        sections: the typed config sections of plugins, likewise.
        addresses: the in-process address space (``inproc://`` URLs of the ``local``
            channel): what this runtime's listeners bind, its transports find.
        catalog: the components and services its containers host and are asked for.
        clients: the managers :func:`~container.connect` and
            :class:`~container.ServiceClient` share, by configuration.
        refused_urls: the (where, URL) pairs logged as refused, so that each is logged once.
        workers: the thread pools and the background event loop of calls that cross between
            sync and async code (docs/async.md); started on first use.
    """

    channels: PluginGroup = attrs.field(factory=CHANNELS.child)
    registries: PluginGroup = attrs.field(factory=REGISTRIES.child)
    sections: PluginGroup = attrs.field(factory=SECTIONS.child)
    addresses: AddressSpace = attrs.field(factory=AddressSpace)
    catalog: Catalog = attrs.field(factory=Catalog)
    clients: SharedClients = attrs.field(factory=SharedClients)
    refused_urls: set[tuple[str, str]] = attrs.field(factory=set)
    workers: Workers = attrs.field(factory=Workers)

    def close(self) -> None:
        """Release the managers :func:`~container.connect` opened, stop the workers' threads and loop."""
        self.clients.close_connections()
        self.workers.close()

    def __repr__(self) -> str:
        return (
            f"<Runtime: {len(self.catalog)} components, {len(self.addresses)} in-process addresses, "
            f"{len(self.clients)} shared managers>"
        )
