"""URL selectors: which instance of a component the next call goes to."""

from __future__ import annotations

import itertools
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from ..values._errors import ConfigurationException, NoAddressException


class URLSelector(ABC):
    """Chooses the URL of the next call among a component's URLs. Must be thread-safe.

    Attributes:
        tracks_calls: True when :meth:`started` and :meth:`finished` must be called around
            each call (load-aware selectors); False spares the call path two method calls.
    """

    tracks_calls: ClassVar[bool] = False

    @abstractmethod
    def get(self, urls: list[str]) -> str:
        """Return the URL for the next call.

        Args:
            urls: the known URLs, never empty.

        Raises:
            NoAddressException: ``urls`` is empty.
        """

    def started(self, url: str) -> None:
        """Called when a call to ``url`` starts (for load-aware selectors)."""

    def finished(self, url: str) -> None:
        """Called when a call to ``url`` ends, successfully or not."""


class FirstURLSelector(URLSelector):
    """Always the first URL: every call goes to one instance while its URL stays first."""

    def get(self, urls: list[str]) -> str:
        """Return ``urls[0]``."""
        if not urls:
            raise NoAddressException("no URL is known")
        return urls[0]


class RoundRobinURLSelector(URLSelector):
    """Each URL in turn, so calls spread evenly over every instance."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def get(self, urls: list[str]) -> str:
        """Return the next URL in turn."""
        if not urls:
            raise NoAddressException("no URL is known")
        # next() on itertools.count is atomic under the GIL: no lock on the call path.
        return urls[next(self._counter) % len(urls)]


class RandomURLSelector(URLSelector):
    """A URL chosen at random for each call."""

    def get(self, urls: list[str]) -> str:
        """Return a random URL."""
        if not urls:
            raise NoAddressException("no URL is known")
        return random.choice(urls)  # noqa: S311 - load spreading, not cryptography


class LeastInFlightURLSelector(URLSelector):
    """The URL with the fewest calls in flight from this client; ties go round robin."""

    tracks_calls = True

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def get(self, urls: list[str]) -> str:
        """Return the least busy URL."""
        if not urls:
            raise NoAddressException("no URL is known")
        start = next(self._counter)
        in_flight = self._in_flight
        ordered = [urls[(start + i) % len(urls)] for i in range(len(urls))]
        return min(ordered, key=lambda url: in_flight.get(url, 0))

    def started(self, url: str) -> None:
        """Count a call to ``url`` as in flight."""
        with self._lock:
            self._in_flight[url] = self._in_flight.get(url, 0) + 1

    def finished(self, url: str) -> None:
        """Count a call to ``url`` as done."""
        with self._lock:
            self._in_flight[url] = self._in_flight.get(url, 1) - 1


SELECTORS: Mapping[str, type[URLSelector]] = MappingProxyType(
    {
        "first": FirstURLSelector,
        "round-robin": RoundRobinURLSelector,
        "random": RandomURLSelector,
        "least-in-flight": LeastInFlightURLSelector,
    }
)
"""Selectors that config can name (``components.<name>.selector``); read-only.

A process-wide table that code could change would make one container's choice another's:
a selector of your own is set on a channel in code (``channel_of(proxy).url_selector =
...``), not added here.
"""


def selector_by_name(name: str, where: str = "selector") -> URLSelector:
    """Return a new selector of the named kind.

    Args:
        name: one of the keys of :data:`SELECTORS`.
        where: the config key that held the name, for the error message.

    Raises:
        ConfigurationException: the name is unknown.
    """
    cls = SELECTORS.get(name)
    if cls is None:
        raise ConfigurationException(
            f"config key {where!r} is {name!r}; known selectors: {', '.join(sorted(SELECTORS))}"
        )
    return cls()
