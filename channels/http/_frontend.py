"""What an HTTP request means, and the answer to it: shared by the embedded server and WSGI.

A request is routed strictly (see :mod:`._routes`); a call goes to the dispatcher with the
request's headers as its metadata (HTTP framing headers left out), and the answer's metadata
goes back as headers; health documents and the report are answered here, and every error is
the dispatcher's envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from container.plugin import RESERVED_METADATA, Dispatcher, Response, ServerRequest

from ._describe import describe_component
from ._engine import HttpAnswer
from ._routes import Route, route

if TYPE_CHECKING:
    from ._dashboard import Dashboard

_INVOKE_ALLOW = (("Allow", "POST, OPTIONS"),)
_READ_ALLOW = (("Allow", "GET, HEAD"),)

_OPERATOR_ROUTES = {"describe": "describe", "dashboard": "dashboard", "dashboard-state": "dashboard"}
"""Route kind -> the ``auth.expose`` endpoint that admits it (describe: as report)."""

# The page runs only its own inline script and talks only to its own server.
_PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
)


def metadata_from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the call metadata that request headers (lowercase names) carry."""
    return {name: value for name, value in headers.items() if name not in RESERVED_METADATA}


class HttpFrontend:
    """Answers HTTP requests for one server's dispatcher.

    Args:
        dispatcher: routes, checks, runs and answers the calls.
        report: returns the plain-text report served on ``/report``.
        metrics: returns the body and content type served on ``/metrics``, or None (404).
        dashboard: serves ``/dashboard`` and its state, or None (404).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        report: Callable[[], str],
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.report = report
        self.metrics = metrics
        self.dashboard = dashboard

    def answer(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        peer: str,
        peer_certificate: dict[str, Any] | None = None,
    ) -> HttpAnswer:
        """Return the answer to one request (the body already read, within the size limit).

        ``peer_certificate`` is the client's verified TLS certificate (mTLS), or None.
        """
        found = route(target)
        dispatcher = self.dispatcher
        if found.kind == "invoke":
            if method == "POST":
                request = ServerRequest(
                    found.path,
                    body,
                    headers.get("content-type", ""),
                    metadata_from_headers(headers),
                    peer,
                    peer_certificate,
                )
                return _from(dispatcher.handle(request))
            if method == "OPTIONS":
                return HttpAnswer(204, headers=_INVOKE_ALLOW)
            if dispatcher.has_route(found.path):
                return _from(
                    dispatcher.error_response(405, "service methods are called with POST"), _INVOKE_ALLOW
                )
            return _from(dispatcher.error_response(404, f"no service method at {found.path}"))
        if found.kind == "bad":
            return _from(dispatcher.error_response(400, found.path))
        component = found.path if found.kind == "health" else dispatcher.health_paths.get(found.path)
        readable = found.kind in ("health", "report", "metrics", *_OPERATOR_ROUTES) or component is not None
        if readable and method not in ("GET", "HEAD"):
            return _from(dispatcher.error_response(405, "use GET here"), _READ_ALLOW)
        if readable:
            endpoint = "health" if component is not None else _OPERATOR_ROUTES.get(found.kind, found.kind)
            refused = dispatcher.admit(endpoint, metadata_from_headers(headers), peer_certificate)
            if refused is not None:
                return _from(refused)
        if found.kind in _OPERATOR_ROUTES:
            return self._operator(found)
        if found.kind == "metrics" and self.metrics is not None:
            payload, content_type = self.metrics()
            return HttpAnswer(200, payload, content_type)
        if component is not None:
            health = dispatcher.health(component)
            if health is not None:
                return _from(health)
        elif found.kind == "report":
            return HttpAnswer(200, self.report().encode(), "text/plain; charset=utf-8")
        return _from(dispatcher.error_response(404, f"nothing at {target.split('?', 1)[0][:200]}"))

    def _operator(self, found: Route) -> HttpAnswer:
        """Answer the operator endpoints (the caller was admitted): a description, the dashboard."""
        dispatcher = self.dispatcher
        if found.kind == "describe":
            hosted = next((c for c in dispatcher.components if c.name == found.path), None)
            if hosted is None:
                return _from(dispatcher.error_response(404, f"no component {found.path} is hosted here"))
            return HttpAnswer(200, msgspec.json.encode(describe_component(hosted)), "application/json")
        if self.dashboard is None:
            return _from(dispatcher.error_response(404, "/dashboard is off (auth.expose.dashboard)"))
        if found.kind == "dashboard":
            return HttpAnswer(200, self.dashboard.page, "text/html; charset=utf-8", _PAGE_HEADERS)
        state = msgspec.json.encode(self.dashboard.state())
        return HttpAnswer(200, state, "application/json", (("Cache-Control", "no-store"),))


def _from(response: Response, headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    if response.metadata:  # the answer's metadata travels as headers, as the call's did
        headers = (*headers, *response.metadata.items())
    return HttpAnswer(response.status, response.body, response.content_type, headers)
