"""Which instance URLs a channel accepts from a registry, and why it refuses the others.

A registry is shared with other processes (a file anyone in a group may write, an etcd cluster),
so the URLs it hands out are checked before a channel sends anything to them. Each channel
declares the shapes of URL it uses (:class:`URLShape`: ``scheme://host:port``, a socket path
``scheme:///path``, an opaque name ``scheme://name``) and its schemes; on every shape the URL
must be a plain string of visible characters with ``scheme://``, of one of the channel's
schemes, and carry no credentials (``user:password@``, which would otherwise be dropped
silently or sent where nobody meant them to go), no query and no fragment. A refused URL is
logged once (its credentials redacted) and left out; the others are used.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

from ..values._redact import redact_credentials

logger = logging.getLogger("servicewire")

LOGGED_AT_MOST = 10_000
"""Refused URLs remembered as logged, at most (so a hostile registry cannot grow the set)."""


class URLShape(enum.Enum):
    """A shape of instance URL a channel accepts (``Channel.url_shapes``).

    Attributes:
        HOST_PORT: ``scheme://host[:port][/path]``: a host and an optional port in range (TCP,
            HTTP).
        SOCKET_PATH: ``scheme:///absolute/path``: no host, the path of a socket (Unix domain
            sockets, named pipes).
        OPAQUE: ``scheme://name``: any name the channel understands (in-process addresses).
    """

    HOST_PORT = "host:port"
    SOCKET_PATH = "socket path"
    OPAQUE = "opaque name"


ALL_SHAPES = (URLShape.HOST_PORT, URLShape.SOCKET_PATH, URLShape.OPAQUE)
"""Every shape: what a channel written to the first plugin contract accepts (it declared none)."""


def url_problem(
    url: object, schemes: Sequence[str], shapes: Sequence[URLShape] = (URLShape.HOST_PORT,)
) -> str | None:
    """Return why ``url`` is not an instance URL for a channel with these schemes and shapes, or None.

    Args:
        url: the URL as a registry gave it.
        schemes: the channel's URL schemes; empty: any scheme.
        shapes: the URL shapes the channel accepts (host:port when not given).
    """
    if not isinstance(url, str) or not url:
        return f"it is not a URL string: {url!r:.80}"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it does not parse: {exc}"
    if not parts.scheme or "://" not in url:
        return "it has no scheme://"
    if schemes and parts.scheme not in schemes:
        return f"its scheme {parts.scheme!r} is not one of this channel's ({', '.join(schemes)})"
    if "@" in parts.netloc:
        return "it carries credentials (user:password@); give credentials in config, never in a registry"
    if parts.query or parts.fragment:
        return "it has a query or a fragment"
    problems = [(shape, _shape_problem(parts, shape)) for shape in shapes]
    if any(problem is None for _, problem in problems):
        return None
    if len(problems) == 1:
        return problems[0][1]
    return "it has none of this channel's URL shapes: " + "; ".join(
        f"as a {shape.value} URL {problem}" for shape, problem in problems
    )


def _shape_problem(parts: SplitResult, shape: URLShape) -> str | None:
    if shape is URLShape.HOST_PORT:
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError as exc:
            return f"it does not parse: {exc}"
        return None if parts.hostname else "it names no host"
    if shape is URLShape.SOCKET_PATH:
        if parts.netloc:
            return "it names a host; a socket path URL is scheme:///path"
        return None if len(parts.path) > 1 and parts.path.startswith("/") else "it names no absolute path"
    return None if parts.netloc or parts.path else "it names nothing after scheme://"


def usable_urls(
    urls: Sequence[str],
    check: Callable[[str], str | None],
    where: str,
    logged: set[tuple[str, str]] | None = None,
) -> list[str]:
    """Return the URLs a channel may send to; log each refused one once (naming ``where``).

    Args:
        urls: the URLs a registry gave.
        check: the channel's ``check_url``: why a URL is refused, or None.
        where: what is refused, for the log line.
        logged: the (where, URL) pairs logged already, updated here: the runtime's
            ``refused_urls`` (None: log every refusal).
    """
    if logged is None:
        logged = set()
    usable = []
    for url in urls:
        problem = check(url)
        if problem is None:
            usable.append(url)
            continue
        key = (where, str(url))
        if key not in logged:
            if len(logged) < LOGGED_AT_MOST:
                logged.add(key)
            shown = redact_credentials(repr(url))  # a URL refused for its credentials must not log them
            logger.warning("%s: the registry's URL %s is refused: %s", where, shown, problem)
    return usable
