"""Idle connections kept for reuse, per URL, shared by threads and bounded: for transports."""

from __future__ import annotations

import collections
import select
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")


def socket_is_stale(sock: Any) -> bool:
    """Return True when an idle socket must not carry another request.

    An idle keep-alive socket that is readable was closed by the server (EOF) or holds stray
    bytes; one that cannot be polled is gone. urllib3 applies the same test.
    """
    try:
        if _poll is None:  # no poll() (Windows): select() handles descriptors below 1024 only
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable)
        poller = _poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


_poll = getattr(select, "poll", None)
"""poll(), when the platform has it: select() fails on descriptors above 1024, which a busy
process reaches, and would make every idle connection look stale."""


class IdlePool(Generic[C]):
    """Idle connections per URL: at most ``max_idle`` each, shared by every calling thread.

    A transport takes a connection with :meth:`take` (None: open a new one) and gives it back
    with :meth:`put` once its exchange is complete; what is given back beyond ``max_idle`` is
    closed. So any number of calling threads leave at most ``max_idle`` sockets per URL open.

    The call path takes no lock: ``deque.append`` and ``deque.pop`` are atomic, and each
    :meth:`put` closes whatever exceeds the bound right after adding, so the bound holds once
    the threads giving connections back are done. (A lock here cost a fifth of the 8-thread
    throughput of the tcp-msgpack sample: bench/README.md.)

    Args:
        max_idle: the most idle connections kept per URL.
        close: closes a connection.
        is_stale: True when an idle connection must not be reused (closed by the server).
    """

    def __init__(self, max_idle: int, close: Callable[[C], Any], is_stale: Callable[[C], bool]) -> None:
        self.max_idle = max_idle
        self._close = close
        self._is_stale = is_stale
        self._idle: dict[str, collections.deque[C]] = {}
        self._new_url = threading.Lock()
        self._closed = False

    def take(self, url: str) -> C | None:
        """Return an idle connection to ``url`` that is still usable, or None."""
        idle = self._idle.get(url)
        while idle:
            try:
                connection = idle.pop()
            except IndexError:  # another thread took the last one
                return None
            if not self._is_stale(connection):
                return connection
            self._close(connection)
        return None

    def put(self, url: str, connection: C) -> None:
        """Keep ``connection`` for the next call to ``url``; close what exceeds the bound."""
        idle = self._idle.get(url)
        if idle is None:
            with self._new_url:
                idle = self._idle.setdefault(url, collections.deque())
        idle.append(connection)
        limit = 0 if self._closed else self.max_idle
        while len(idle) > limit:
            try:
                extra = idle.popleft()
            except IndexError:
                return
            self._close(extra)

    def idle_count(self) -> int:
        """Return the number of idle connections kept now (every URL)."""
        return sum(len(idle) for idle in list(self._idle.values()))

    def close(self) -> None:
        """Close every idle connection; connections given back later are closed too."""
        self._closed = True
        for idle in list(self._idle.values()):
            while idle:
                try:
                    connection = idle.pop()
                except IndexError:
                    break
                self._close(connection)
