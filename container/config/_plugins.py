"""Plugin discovery through entry points, loaded lazily by name.

Three groups exist: ``servicewire.channels`` (Channel subclasses), ``servicewire.registries``
(ComponentRegistry subclasses) and ``servicewire.settings`` (the typed config sections that
plugins declare). The installed distributions' entry points are read once, on the first
look-up; a plugin's module is imported only when its name is asked for. Classes can also be
registered directly, or declared by an annotation that the group finds (``@channel``).

The module-level groups (``CHANNELS``, ``REGISTRIES``, ``SECTIONS``) hold the process's entry
points, read once (a pure cache of what is installed), and the registrations of the earlier
plugin contract, which every runtime sees. Each runtime has a group of its own on top
(:meth:`PluginGroup.child`): what is registered there is seen by that runtime only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

from ..values._errors import (
    LocalServiceException,
    PluginException,
)

CHANNEL_GROUP = "servicewire.channels"
"""The entry-point group of channel plugins."""

REGISTRY_GROUP = "servicewire.registries"
"""The entry-point group of registry plugins."""

SETTINGS_GROUP = "servicewire.settings"
"""The entry-point group of typed config sections: ``<section key> = module:SettingsType``."""


class PluginGroup:
    """The plugins of one entry-point group.

    Args:
        group: the entry-point group name.
        kind: what the plugins are, for error messages ("channel", "registry").
        base: a callable returning the class every plugin must subclass (late-bound so that
            the group can be made before the contracts are imported).
        unknown: builds the error raised for an unknown name from (name, known names).
        declared: returns the classes declared by annotation, by name (``@channel`` marks a
            class; this finds the marked ones); they come after direct registrations and
            before entry points.
        parent: the group this one adds registrations to (a runtime's group over the
            process's); names, entry points and annotations come from the parent.
    """

    def __init__(
        self,
        group: str,
        kind: str,
        base: Callable[[], type],
        unknown: Callable[[str, list[str]], LocalServiceException],
        declared: Callable[[], dict[str, type]] | None = None,
        parent: PluginGroup | None = None,
    ) -> None:
        self.group = group
        self.kind = kind
        self._base = base
        self._unknown = unknown
        self._declared = declared
        self._lock = threading.RLock()
        self._registered: dict[str, type] = {}
        self._loaded: dict[str, type] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None
        self._conflicts: dict[str, list[str]] = {}
        self.parent = parent

    def child(self) -> PluginGroup:
        """Return a new group over this one: its registrations are its own, the rest is this one's.

        A runtime's plugin groups are children of the process's: registering in one is seen
        by that runtime only; entry points are read once, by the process's group.
        """
        return type(self)(self.group, self.kind, self._base, self._unknown, parent=self)

    def register(self, name: str, cls: type) -> None:
        """Register a class under a name directly (application code and tests).

        Raises:
            PluginException: ``cls`` is not a subclass of the group's base class.
        """
        self._check(name, cls, origin=f"{cls.__module__}.{cls.__qualname__}")
        with self._lock:
            self._registered[name] = cls

    def unregister(self, name: str) -> None:
        """Forget a directly registered class (entry points and @channel-marked classes stay)."""
        with self._lock:
            self._registered.pop(name, None)

    def names(self) -> list[str]:
        """Return every known name: registered directly or declared by an entry point."""
        if self.parent is not None:
            with self._lock:
                own = set(self._registered)
            return sorted(own | set(self.parent.names()))
        with self._lock:
            declared = self._declared() if self._declared is not None else {}
            return sorted(set(self._registered) | set(declared) | set(self._scan()))

    def distribution_of(self, name: str) -> str | None:
        """Return the distribution whose entry point declares ``name``, or None."""
        if self.parent is not None:
            return self.parent.distribution_of(name)
        entry_point = self._scan().get(name)
        return _distribution_name(entry_point) if entry_point is not None else None

    def get(self, name: str) -> type:
        """Return the class of the plugin called ``name``, importing it on first use.

        Raises:
            LocalServiceException: the group's unknown-name error, listing the known names.
            PluginException: the entry point cannot be loaded, is claimed by two
                distributions, or does not name a subclass of the base class.
        """
        cls = self.find(name)
        if cls is None:
            raise self._unknown(name, self.names())
        return cls

    def find(self, name: str) -> type | None:
        """Return the class of the plugin called ``name``, or None when nothing declares it.

        Raises:
            PluginException: the entry point cannot be loaded, is claimed by two
                distributions, or does not name a subclass of the base class.
        """
        cls = self._registered.get(name)
        if cls is not None:
            return cls
        if self.parent is not None:
            return self.parent.find(name)
        if self._declared is not None:
            cls = self._declared().get(name)
            if cls is not None:
                return cls
        cls = self._loaded.get(name)
        if cls is not None:
            return cls
        with self._lock:
            cls = self._registered.get(name) or self._loaded.get(name)
            if cls is not None:
                return cls
            entry_points = self._scan()
            if name in self._conflicts:
                raise PluginException(
                    f"{self.kind} {name!r} in entry-point group {self.group!r} is declared by "
                    f"several distributions: {', '.join(sorted(self._conflicts[name]))}; uninstall all "
                    "but one"
                )
            entry_point = entry_points.get(name)
            if entry_point is None:
                return None
            origin = (
                f"entry point {entry_point.name} = {entry_point.value} in group {self.group!r} "
                f"of distribution {_distribution_name(entry_point)!r}"
            )
            try:
                loaded = entry_point.load()
            except Exception as exc:
                raise PluginException(f"cannot load {self.kind} plugin from {origin}: {exc!r}") from exc
            self._check(name, loaded, origin)
            self._loaded[name] = loaded
            return loaded  # type: ignore[no-any-return]

    def refresh(self) -> None:
        """Forget the cached entry-point scan (after installing a distribution at run time)."""
        if self.parent is not None:
            self.parent.refresh()
            return
        with self._lock:
            self._entry_points = None
            self._conflicts = {}

    def _scan(self) -> dict[str, metadata.EntryPoint]:
        if self._entry_points is None:
            found: dict[str, metadata.EntryPoint] = {}
            conflicts: dict[str, list[str]] = {}
            for entry_point in metadata.entry_points(group=self.group):
                previous = found.get(entry_point.name)
                if previous is not None and previous.value != entry_point.value:
                    conflicts.setdefault(entry_point.name, [_distribution_name(previous)])
                    conflicts[entry_point.name].append(_distribution_name(entry_point))
                found.setdefault(entry_point.name, entry_point)
            self._entry_points = found
            self._conflicts = conflicts
        return self._entry_points

    def _check(self, name: str, cls: Any, origin: str) -> None:
        base = self._base()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginException(
                f"{self.kind} {name!r} from {origin} is {cls!r}, not a subclass of "
                f"{base.__module__}.{base.__qualname__}"
            )


def _distribution_name(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return dist.name if dist is not None else "(unknown distribution)"
