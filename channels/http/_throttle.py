"""Log lines about what clients do wrong, a line per kind every so often rather than one per client.

A failed TLS handshake, a refused accept or a request refused for lack of buffer space is a
client's doing, and fifty such clients must not write fifty lines: the first is logged at once,
the next ones are counted and told in one line once :data:`EVERY` seconds have passed (with the
next one, or by :meth:`ThrottledLog.flush`, which the engines call as they sweep).
"""

from __future__ import annotations

import logging
import time

__all__ = ["EVERY", "ThrottledLog"]

EVERY = 10.0
"""Seconds between two lines of one kind."""


class ThrottledLog:
    """One kind of event, logged at most once every :data:`EVERY` seconds with a count of the others.

    Args:
        logger: where the lines go.
        level: their level.
        what: the events, plural, for the line that counts them (``"failed TLS handshakes"``).
        every: seconds between two lines.
    """

    __slots__ = ("_every", "_last", "_level", "_logger", "_untold", "_what")

    def __init__(self, logger: logging.Logger, level: int, what: str, every: float = EVERY) -> None:
        self._logger = logger
        self._what = what
        self._level = level
        self._every = every
        self._last = -every
        self._untold = 0

    def __call__(self, message: str, *args: object) -> None:
        """Log ``message % args``, or count it when a line was logged less than ``every`` s ago."""
        now = time.monotonic()
        if now - self._last < self._every:
            self._untold += 1
            return
        if self._untold:
            message += " (and %d more %s in the last %.0f s)"
            args = (*args, self._untold, self._what, now - self._last)
        self._untold = 0
        self._last = now
        self._logger.log(self._level, message, *args)

    def flush(self) -> None:
        """Tell the events counted and not yet told, once ``every`` seconds passed since the last line."""
        now = time.monotonic()
        if self._untold and now - self._last >= self._every:
            told = (self._untold, self._what, now - self._last)
            self._logger.log(self._level, "%d more %s in the last %.0f s", *told)
            self._untold = 0
            self._last = now
