"""Which URL each attempt of a call goes to: selection, cool-downs and failover, without I/O.

A channel keeps one :class:`Attempts` per component: the URLs the registry gave, the URL
selector, and the URLs cooling down after a failure. It decides; the runner of a call (sync
today, async later) loops over its decisions and does the sending::

    choice = attempts.choice                 # the candidates, computed once per change
    url = choice.only or choice.pick()        # one URL: no selector, no work
    failover = None
    while True:
        try:
            answer = send(url, payload)
        except ServiceCommunicationException as exc:
            if failover is None:
                failover = attempts.failover(choice, url, idempotent, deadline, budget)
            url = failover.next_url(url, exc)   # raises when the call may not go elsewhere
            continue
        ...

The candidate URLs (those not cooling down, in the registry's order) are computed when the
URL list changes, when a URL starts or stops cooling down, and when a cool-down ends: never
per attempt, so a list of 10,000 URLs costs each call a look-up, and a call that walks through
dead instances costs one step per instance. A call moves to another URL only when that is
safe (nothing was sent, or the method is idempotent) and never past its deadline. This is also
where per-method resilience policies (retries with backoff, hedging, breakers feeding the
choice) will plug in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..values._errors import NoAddressException, ServiceCommunicationException, ServiceTimeoutException
from ._events import NO_EVENTS, ChannelEvents, ObservedChannel
from ._selectors import RoundRobinURLSelector, URLSelector

_monotonic = time.monotonic


def _is_connect_timeout(exc: ServiceCommunicationException) -> bool:
    return isinstance(exc, ServiceTimeoutException) and exc.limit == "connect"


def instance_failed(exc: ServiceCommunicationException) -> bool:
    """Return True when a failure says something about the instance, so its URL cools down.

    Connecting failed or the connection broke: yes. A slow answer (the deadline) or a missing
    address says nothing about the instance.
    """
    if isinstance(exc, NoAddressException):
        return False
    if isinstance(exc, ServiceTimeoutException):
        return exc.limit == "connect"
    return True


class Choice:
    """The URLs the next calls choose from: one snapshot, replaced whenever it changes.

    Attributes:
        only: the URL every call goes to when there is exactly one choice and the selector
            has nothing to decide ("" otherwise: ask :meth:`pick`).
        selector: the channel's URL selector.
        tracks: True when the selector counts calls in flight (``started``/``finished``).
        cooling: True when some URLs were cooling down when the snapshot was made.
    """

    __slots__ = (
        "_attempts",
        "_candidates",
        "_position",
        "_resting",
        "_until",
        "cooling",
        "only",
        "selector",
        "tracks",
    )

    def __init__(
        self,
        attempts: Attempts,
        candidates: Sequence[str],
        resting: Sequence[str],
        until: float | None,
    ) -> None:
        self._attempts = attempts
        self._candidates = list(candidates)
        self._resting = tuple(resting)
        self._until = until  # when the first cool-down ends (None: no URL cools down)
        self._position: dict[str, int] | None = None
        self.selector = attempts.selector
        self.tracks = self.selector.tracks_calls
        self.cooling = bool(resting) or until is not None
        single = len(self._candidates) == 1 and until is None
        self.only = self._candidates[0] if single and not self.tracks else ""

    def pick(self) -> str:
        """Return the URL of a call's first attempt.

        Raises:
            NoAddressException: no URL is known.
        """
        if self._until is not None and _monotonic() >= self._until:
            return self._attempts.refresh().pick()
        candidates = self._candidates
        if not candidates:
            raise NoAddressException(self._attempts.no_address)
        return self.selector.get(candidates)

    def rest(self, first: str) -> Iterator[str]:
        """Yield the URLs a call that failed on ``first`` moves on to, each once, in turn.

        The other candidates first, starting after ``first``; then the URLs cooling down.
        """
        candidates = self._candidates
        position = self._position
        if position is None:
            position = self._position = {url: index for index, url in enumerate(candidates)}
        start = position.get(first)
        if start is None:
            yield from candidates
        else:
            yield from candidates[start + 1 :]
            yield from candidates[:start]
        for url in self._resting:
            if url != first:
                yield url


class Failover:
    """The failover decisions of one call that failed: where next, or give up.

    Made when the call's first attempt fails (never for a call that succeeds at once).

    Args:
        attempts: the channel's attempts.
        choice: the snapshot the call started from.
        first: the URL of the failed first attempt.
        idempotent: whether a call that may have run may go elsewhere.
        deadline: when the call must be over (monotonic), or None.
        budget: the seconds the call had when its deadline was set, for messages.
    """

    __slots__ = ("_attempts", "_budget", "_deadline", "_idempotent", "_rest")

    def __init__(
        self,
        attempts: Attempts,
        choice: Choice,
        first: str,
        idempotent: bool,
        deadline: float | None,
        budget: float | None,
    ) -> None:
        self._attempts = attempts
        self._rest = choice.rest(first)
        self._idempotent = idempotent
        self._deadline = deadline
        self._budget = budget or 0.0

    def next_url(self, url: str, exc: ServiceCommunicationException) -> str:
        """Return the URL to try after ``url`` failed with ``exc``; raise when there is none.

        A failure that sent nothing (``exc.sent`` False: no connection, a connect timeout, a
        server that refused to run the call) moves on to the next URL; one that may have run
        the call only for an idempotent method; an expired deadline never. A URL whose instance
        failed cools down. A connection attempt cut short because the deadline passed is the
        deadline's timeout (``limit="deadline"``, nothing sent), not the instance's.

        Raises:
            ServiceCommunicationException: ``exc`` itself, when the call may not go elsewhere
                or every URL was tried; a :class:`ServiceTimeoutException` when the deadline
                passed meanwhile.
        """
        attempts = self._attempts
        if self._deadline is not None and _is_connect_timeout(exc) and _monotonic() >= self._deadline:
            # The attempt's limit was the time the deadline left: the deadline ran out, not the
            # instance (a "connect timeout of 0.01s" would blame it, and cool its URL down).
            expired = ServiceTimeoutException(exc.url, "deadline", self._budget, sent=False)
            attempts.failed(url, expired)
            raise expired from exc
        attempts.failed(url, exc)
        if exc.sent and not self._idempotent:
            raise exc
        if isinstance(exc, ServiceTimeoutException) and exc.limit == "deadline":
            raise exc
        following = next(self._rest, None)
        if following is None:
            raise exc
        if self._deadline is not None and _monotonic() >= self._deadline:
            raise ServiceTimeoutException(url, "deadline", self._budget) from exc
        attempts.events.failed_over(attempts.channel, url, exc)
        return following


class Attempts:
    """Where the calls of one channel go: its URLs, its selector, the URLs cooling down.

    Thread-safe without a lock on the call path: :attr:`choice` is an immutable snapshot
    replaced as a whole; cool-downs are a dictionary whose single operations are atomic.

    Args:
        channel: the channel, named in events.
        no_address: the message of the :class:`NoAddressException` when no URL is known.
        selector: chooses among the candidates.
        cooldown: seconds a URL whose instance failed is skipped while other URLs are left.
        events: where failovers and cool-downs are told.
    """

    def __init__(
        self,
        channel: ObservedChannel,
        no_address: str = "no URL is known",
        selector: URLSelector | None = None,
        cooldown: float = 5.0,
        events: ChannelEvents = NO_EVENTS,
    ) -> None:
        self.channel = channel
        self.no_address = no_address
        self.events = events
        self._selector = selector or RoundRobinURLSelector()
        self._cooldown = cooldown
        self._urls: tuple[str, ...] = ()
        self._cooling: dict[str, float] = {}  # URL -> when its cool-down ends
        self.choice = Choice(self, (), (), None)

    @property
    def selector(self) -> URLSelector:
        """The URL selector (setting it applies to the next call)."""
        return self._selector

    @selector.setter
    def selector(self, selector: URLSelector) -> None:
        self._selector = selector
        self.refresh()

    @property
    def cooldown(self) -> float:
        """Seconds a URL whose instance failed is skipped while other URLs are left."""
        return self._cooldown

    @cooldown.setter
    def cooldown(self, seconds: float) -> None:
        self._cooldown = seconds

    @property
    def urls(self) -> tuple[str, ...]:
        """The URLs calls may go to."""
        return self._urls

    @property
    def cooling(self) -> dict[str, float]:
        """The URLs cooling down now, with when each cool-down ends (a copy)."""
        now = _monotonic()
        return {url: until for url, until in list(self._cooling.items()) if until > now}

    def set_urls(self, urls: Sequence[str]) -> None:
        """Replace the URLs (a registry changed them)."""
        self._urls = tuple(urls)
        self.refresh()

    def pick(self) -> str:
        """Return the URL of the next call's first attempt (see :meth:`Choice.pick`)."""
        choice = self.choice
        return choice.only or choice.pick()

    def settled(self) -> Choice:
        """Return the choice of the next call, computed again first if it changed or a cool-down ended."""
        choice = self.choice
        if type(choice) is _Stale or (choice._until is not None and _monotonic() >= choice._until):
            return self.refresh()
        return choice

    def refresh(self) -> Choice:
        """Compute the candidates again (the URLs, a cool-down or the selector changed)."""
        now = _monotonic()
        cooling = self._cooling
        until: float | None = None
        resting: list[str] = []
        for url, ends in list(cooling.items()):
            if ends <= now:
                cooling.pop(url, None)
            elif until is None or ends < until:
                until = ends
        if cooling:
            candidates = [url for url in self._urls if url not in cooling]
            resting = [url for url in self._urls if url in cooling]
            if not candidates:  # every URL cools down: try them all rather than none
                candidates, resting = resting, []
        else:
            candidates = list(self._urls)
        choice = self.choice = Choice(self, candidates, resting, until)
        return choice

    def failover(
        self, choice: Choice, first: str, idempotent: bool, deadline: float | None, budget: float | None
    ) -> Failover:
        """Return the failover decisions of a call whose first attempt, on ``first``, failed."""
        return Failover(self, choice, first, idempotent, deadline, budget)

    def failed(self, url: str, exc: ServiceCommunicationException) -> None:
        """Note a failure on ``url``: its URL cools down when the instance failed."""
        if self._cooldown > 0 and instance_failed(exc):
            self._cooling[url] = _monotonic() + self._cooldown
            self.choice = _Stale(self)  # the next call computes the candidates again
            self.events.cooled_down(self.channel, url)

    def succeeded(self, url: str) -> None:
        """Note that ``url`` answered: a URL cooling down is a candidate again."""
        if self._cooling.pop(url, None) is not None:
            self.choice = _Stale(self)


class _Stale(Choice):
    """A choice whose candidates changed: the next pick computes them again."""

    def __init__(self, attempts: Attempts) -> None:
        super().__init__(attempts, (), (), None)
        self.cooling = True

    def pick(self) -> str:
        return self._attempts.refresh().pick()

    def rest(self, first: str) -> Iterator[Any]:
        return self._attempts.refresh().rest(first)
