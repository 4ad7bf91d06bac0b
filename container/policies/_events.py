"""What happens to a component's instances, as channels see it: failovers, cool-downs, new URL lists.

The manager gives every channel it sets up its :class:`ChannelEvents`; observers (the metrics,
your own code) subscribe with :meth:`ChannelEvents.subscribe`. Events are rare (a failure, a
registry change), so the call path pays nothing for them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..values._values import ChannelInstances

logger = logging.getLogger("servicewire")


class ObservedChannel(Protocol):
    """The channel an event happened on, as observers see it (``container.Channel`` is one).

    Named here as a protocol, so that the policies sit below the channel.
    """

    @property
    def name(self) -> str:
        """The channel name."""


class ChannelObserver(Protocol):
    """Receives a channel's events; every method is optional to implement."""

    def failed_over(self, channel: ObservedChannel, url: str, error: BaseException) -> None:
        """A call left ``url`` for another instance after ``error``."""

    def cooled_down(self, channel: ObservedChannel, url: str) -> None:
        """``url`` failed and is skipped for the component's cool-down."""

    def addresses_changed(self, channel: ObservedChannel, address: ChannelInstances | None) -> None:
        """The registry gave the channel a new list of URLs."""


class ChannelEvents:
    """Tells the subscribed observers what the channels of one manager saw."""

    def __init__(self) -> None:
        self._observers: list[Any] = []

    def subscribe(self, observer: Any) -> None:
        """Add an observer (any object with some of :class:`ChannelObserver`'s methods)."""
        self._observers.append(observer)

    def failed_over(self, channel: ObservedChannel, url: str, error: BaseException) -> None:
        """Tell the observers that a call left ``url`` after ``error``."""
        self._tell("failed_over", channel, url, error)

    def cooled_down(self, channel: ObservedChannel, url: str) -> None:
        """Tell the observers that ``url`` cools down."""
        self._tell("cooled_down", channel, url)

    def addresses_changed(self, channel: ObservedChannel, address: ChannelInstances | None) -> None:
        """Tell the observers about a channel's new URL list."""
        self._tell("addresses_changed", channel, address)

    def _tell(self, event: str, *args: Any) -> None:
        for observer in self._observers:
            method = getattr(observer, event, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:  # an observer's bug must not fail a call
                logger.exception("channel observer %r failed on %s", observer, event)


NO_EVENTS = ChannelEvents()
"""The events of a channel without a manager: nobody listens."""
