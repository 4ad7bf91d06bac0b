"""What plugins see of the runtime their settings belong to: its address space and its workers.

Each ServiceContainer owns a runtime (``container.Runtime``): its catalog, plugin
registrations, in-process addresses, shared managers, and the threads and event loop that
calls crossing between sync and async code borrow (:class:`~._workers.Workers`). The core hands
a plugin the runtime through what it already hands it, the :class:`~container.plugin.Settings`
(``settings.runtime``); this module declares the part of it a plugin may use, so that the
layers below the runtime can name it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Protocol

from ._plugins import PluginGroup
from ._workers import Workers


class AddressSpace:
    """The in-process addresses of one runtime: ``scheme://<id>`` URLs bound to objects.

    An in-process channel's listener binds its dispatcher here and registers the URL; its
    transport looks the URL up to find the dispatcher. Two runtimes never see each other's
    addresses, as two hosts never see each other's loopback ports.
    """

    def __init__(self) -> None:
        self._bound: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.lookup = self._bound.get
        """Return what is bound at a URL, or None (a plain dictionary look-up: the call path)."""

    def bind(self, target: Any, scheme: str) -> str:
        """Bind ``target`` at a new ``scheme://<id>`` URL of this space and return the URL."""
        url = f"{scheme}://{uuid.uuid4().hex}"
        with self._lock:
            self._bound[url] = target
        return url

    def unbind(self, url: str) -> None:
        """Forget what is bound at ``url`` (nothing happens when nothing is)."""
        with self._lock:
            self._bound.pop(url, None)

    def urls(self) -> list[str]:
        """Return the URLs bound now."""
        with self._lock:
            return list(self._bound)

    def __len__(self) -> int:
        return len(self._bound)

    def __repr__(self) -> str:
        return f"<AddressSpace of {len(self)} URLs>"


class PluginRuntime(Protocol):
    """The part of a runtime the core hands plugins as ``settings.runtime``.

    Attributes:
        addresses: the runtime's in-process address space.
        sections: the typed config sections known to the runtime, by top-level key.
        refused_urls: what was logged as refused already (the core logs a URL once).
        workers: the thread pools and background event loop of calls that cross between sync
            and async code (a transport without ``send_async`` is run in ``workers.pool``).
    """

    @property
    def addresses(self) -> AddressSpace:
        """The runtime's in-process address space."""

    @property
    def sections(self) -> PluginGroup:
        """The typed config sections known to the runtime."""

    @property
    def refused_urls(self) -> set[tuple[str, str]]:
        """(where, URL) pairs the core logged as refused, so that each is logged once."""

    @property
    def workers(self) -> Workers:
        """The thread pools and background event loop of the runtime."""


class DetachedRuntime:
    """The runtime of settings made outside any container (``Settings(config)`` in a test).

    It has an address space of its own, so an in-process transport made from such settings
    finds nothing but what a listener made from the same settings bound, and the process's
    typed sections. A ServiceManager given such settings replaces it with its own runtime.

    Args:
        sections: the typed config sections to know.
    """

    def __init__(self, sections: PluginGroup) -> None:
        self._addresses = AddressSpace()
        self._sections = sections
        self._refused: set[tuple[str, str]] = set()

    @property
    def addresses(self) -> AddressSpace:
        """An address space of these settings' own."""
        return self._addresses

    @property
    def sections(self) -> PluginGroup:
        """The process's typed sections."""
        return self._sections

    @property
    def refused_urls(self) -> set[tuple[str, str]]:
        """The refused URLs logged already for these settings."""
        return self._refused

    @property
    def workers(self) -> Workers:
        """The process's shared workers (settings made outside a container own no threads)."""
        return shared_workers()


_shared: list[Workers] = []
_shared_lock = threading.Lock()


def shared_workers() -> Workers:
    """Return the workers of what no runtime owns (settings made on their own), made on first use.

    A pure cache of threads started on demand: no behaviour depends on it.
    """
    if not _shared:
        with _shared_lock:
            if not _shared:
                _shared.append(Workers())
    return _shared[0]


def workers_of(runtime: object) -> Workers:
    """Return a runtime's workers; the shared ones for a runtime object made before workers existed."""
    found = getattr(runtime, "workers", None)
    return found if isinstance(found, Workers) else shared_workers()
