"""Which instance URLs a channel accepts from a registry, and why it refuses the others.

A registry is shared with other processes (a file anyone in a group may write, an etcd cluster),
so the URLs it hands out are checked before a channel sends anything to them: the scheme must
be one of the channel's ``schemes``, the URL must name a host, and it must carry no credentials,
which would otherwise be dropped silently or sent where nobody meant them to go. A refused URL
is logged once and left out; the others are used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

logger = logging.getLogger("servicewire")

# Process-wide on purpose: a refused URL is logged once per process, whichever container's
# channel meets it again (bounded below, so a hostile registry cannot grow it without end).
_warned: set[tuple[str, str]] = set()


def url_problem(url: object, schemes: Sequence[str]) -> str | None:
    """Return why ``url`` is not an instance URL for a channel with these schemes, or None.

    Args:
        url: the URL as a registry gave it.
        schemes: the channel's URL schemes; empty: any scheme.
    """
    if not isinstance(url, str) or not url:
        return f"it is not a URL string: {url!r:.80}"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"it does not parse: {exc}"
    if not parts.scheme or "://" not in url:
        return "it has no scheme://"
    if schemes and parts.scheme not in schemes:
        return f"its scheme {parts.scheme!r} is not one of this channel's ({', '.join(schemes)})"
    if not parts.hostname:
        return "it names no host"
    if "@" in parts.netloc:
        return "it carries credentials (user:password@); give credentials in config, never in a registry"
    if parts.query or parts.fragment:
        return "it has a query or a fragment"
    return None


def usable_urls(urls: Sequence[str], schemes: Sequence[str], where: str) -> list[str]:
    """Return the URLs a channel may send to; log each refused one once (naming ``where``)."""
    usable = []
    for url in urls:
        problem = url_problem(url, schemes)
        if problem is None:
            usable.append(url)
            continue
        key = (where, str(url))
        if key not in _warned:
            if len(_warned) < 10_000:
                _warned.add(key)
            logger.warning("%s: the registry's URL %r is refused: %s", where, url, problem)
    return usable
