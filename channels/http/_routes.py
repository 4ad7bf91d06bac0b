"""Which request targets mean what: the routes of the HTTP server side, strictly.

Shared by the embedded server and the WSGI application, so both answer alike::

    POST    /invoke/{component}/{service}/{method}   a call (405 for other methods; OPTIONS: 204)
    GET     /health/{component}                      the health document
    GET     /report                                  what is hosted (plain text)
    GET     /describe/{component}                    a hosted component's interface (JSON)
    GET     /dashboard, /dashboard/state             the dashboard page and its state (JSON)
    GET     {endpoint}                               a component's @health(endpoint)

Targets are taken as sent, never decoded first: only the origin form (``/path``, an optional
``?query`` ignored) is accepted, and a path holding ``%`` (an encoded ``/`` would otherwise
forge a route), ``//``, or a ``.``/``..`` segment is refused with 400. Component, service and
method names never need encoding: they are letters, digits, ``-``, ``_`` and ``.``.
"""

from __future__ import annotations

import re

import attrs

INVOKE = "/invoke/"
HEALTH = "/health/"
REPORT = "/report"
METRICS = "/metrics"
DESCRIBE = "/describe/"
DASHBOARD = "/dashboard"
DASHBOARD_STATE = "/dashboard/state"

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@attrs.frozen
class Route:
    """What a request target asks for.

    Attributes:
        kind: ``"invoke"``, ``"health"``, ``"report"``, ``"metrics"``, ``"describe"``,
            ``"dashboard"``, ``"dashboard-state"``, ``"other"`` (some other path: 404 unless it
            is a health endpoint) or ``"bad"`` (refused: 400).
        path: for ``invoke``, ``component/service/method``; for ``health`` and ``describe``,
            the component; for ``other``, the path; for ``bad``, why.
    """

    kind: str
    path: str = ""


_ROUTES: dict[str, Route] = {}
_CACHED_TARGET = 200
"""Targets up to this long are remembered (a service has few; the cache is emptied at 1,000)."""


def route(target: str) -> Route:
    """Return what a raw request target (as on the request line) asks for."""
    found = _ROUTES.get(target)
    if found is None:
        found = _route(target)
        if len(target) <= _CACHED_TARGET:
            if len(_ROUTES) >= 1000:
                _ROUTES.clear()  # many distinct targets: a scan, not a service's callers
            _ROUTES[target] = found
    return found


def _route(target: str) -> Route:
    if not target.startswith("/") or target.startswith("//"):
        return Route("bad", f"request target {target[:100]!r} is not of the form /path")
    path = target.split("?", 1)[0]
    if "%" in path:
        return Route("bad", "percent-encoded characters are not allowed in the path")
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments) or "//" in path:
        return Route("bad", "dot segments and empty segments are not allowed in the path")
    if path.startswith(INVOKE):
        names = segments[1:]
        if len(names) == 3 and all(_SEGMENT.match(name) for name in names):
            return Route("invoke", "/".join(names))
        return Route("other", path)
    if path.startswith(HEALTH):
        component = path[len(HEALTH) :]
        return Route("health", component) if _SEGMENT.match(component) else Route("other", path)
    if path == REPORT:
        return Route("report")
    if path == METRICS:
        return Route("metrics")
    if path.startswith(DESCRIBE):
        component = path[len(DESCRIBE) :]
        return Route("describe", component) if _SEGMENT.match(component) else Route("other", path)
    if path == DASHBOARD:
        return Route("dashboard")
    if path == DASHBOARD_STATE:
        return Route("dashboard-state")
    return Route("other", path)
