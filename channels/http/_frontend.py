"""What an HTTP request means, and the answer to it: shared by the embedded server and WSGI.

A request is routed strictly (see :mod:`._routes`); a call goes to the dispatcher with the
request's headers as its metadata (HTTP framing headers left out), and the answer's metadata
goes back as headers; health documents and the report are answered here, and every error is
the dispatcher's envelope. This module is the one place where the HTTP channels talk to the
:class:`~container.plugin.Dispatcher`.

Checked here, so that every server answers alike: an HTTP/1.1 request names exactly one Host
(RFC 9112, 3.2; 400 otherwise), and ``sw-timeout-ms`` is given at most once (400: two
deadlines cannot both hold).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import msgspec

from container.plugin import RESERVED_METADATA, TIMEOUT_KEY, Dispatcher, Response, ServerRequest

from ._describe import describe_component
from ._protocol import HttpAnswer, HttpRequest
from ._routes import Route, route

if TYPE_CHECKING:
    from ._dashboard import Dashboard

InThread = Callable[[Callable[["HttpRequest"], "HttpAnswer"], "HttpRequest"], Awaitable["HttpAnswer"]]
"""Runs ``function(request)`` in a thread and returns its answer (an asyncio listener's pool)."""

_INVOKE_ALLOW = (("Allow", "POST, OPTIONS"),)
_REFUSALS = {408: "RequestTimeout", 431: "RequestHeaderFieldsTooLarge"}
"""Error types of the statuses only the HTTP layer answers (the dispatcher names the others)."""
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

    def refuse(self, status: int, message: str) -> HttpAnswer:
        """Return an error answer in the dispatcher's envelope (for what a server refuses itself)."""
        return _from(self.dispatcher.error_response(status, message, None, _REFUSALS.get(status, "")))

    def precheck(self, request: HttpRequest) -> HttpAnswer | None:
        """Decide, from its head only, whether a request whose client waits for ``100 Continue`` is served.

        Returns:
            None when the body should come (the call is routed and its caller authenticated);
            else the answer to give without reading the body.
        """
        refused = self._refused_head(request)
        if refused is not None:
            return refused
        found = route(request.target)
        if found.kind == "invoke" and request.method == "POST":
            headers = request.headers
            head = ServerRequest(
                found.path,
                b"",  # not read yet: the client waits for 100 Continue to send it
                headers.get("content-type", ""),
                metadata_from_headers(headers),
                request.peer,
                request.peer_certificate,
            )
            response = self.dispatcher.check(head)
            return None if response is None else _from(response)
        return self.answer(request)  # no other route reads a body

    def answer(self, request: HttpRequest) -> HttpAnswer:
        """Return the answer to one request (its body already read, within the size limit)."""
        refused = self._refused_head(request)
        if refused is not None:
            return refused
        found = route(request.target)
        if found.kind == "invoke" and request.method == "POST":
            return _from(self.dispatcher.handle(_call(found, request)))
        return self._other(request, found)

    async def answer_async(self, request: HttpRequest, in_thread: InThread) -> HttpAnswer:
        """Return the answer to one request from an event loop (an asyncio listener, ASGI).

        A call goes to :meth:`Dispatcher.handle_async <container.plugin.Dispatcher.handle_async>`
        (an ``async def`` implementation runs on the running loop; cancelling the awaiting
        task cancels it); every other route is answered as :meth:`answer` does, in a thread
        (``in_thread(function, request)``), since health checks, the report and the dashboard
        may block.
        """
        refused = self._refused_head(request)
        if refused is not None:
            return refused
        found = route(request.target)
        if found.kind == "invoke" and request.method == "POST":
            call = _call(found, request)
            return _from(await self.dispatcher.handle_async(call))
        return await in_thread(self.answer, request)

    def _other(self, request: HttpRequest, found: Route) -> HttpAnswer:
        """Answer what is not a call: the other methods on a call's path, health, the operator routes."""
        method, target, headers = request.method, request.target, request.headers
        dispatcher = self.dispatcher
        if found.kind == "invoke":
            if method == "OPTIONS":
                return HttpAnswer(204, headers=_INVOKE_ALLOW)
            unknown_caller = dispatcher.unauthenticated(
                found.path, metadata_from_headers(headers), request.peer_certificate
            )
            if unknown_caller is not None:  # before 405 or 404, which would tell what is hosted
                return _from(unknown_caller)
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
            denied = dispatcher.admit(endpoint, metadata_from_headers(headers), request.peer_certificate)
            if denied is not None:
                return _from(denied)
        if found.kind in _OPERATOR_ROUTES:
            return self._operator(found, request)
        if found.kind == "metrics" and self.metrics is not None:
            payload, content_type = self.metrics()
            return HttpAnswer(200, payload, content_type)
        if component is not None:
            health = dispatcher.health(component, metadata_from_headers(headers), request.peer_certificate)
            if health is not None:
                return _from(health)
        elif found.kind == "report":
            return HttpAnswer(200, self.report().encode(), "text/plain; charset=utf-8")
        return self._not_found(
            request, target.split("?", 1)[0][:200], f"nothing at {target.split('?', 1)[0][:200]}"
        )

    def _refused_head(self, request: HttpRequest) -> HttpAnswer | None:
        headers = request.headers
        host = headers.get("host")
        if host is None:
            if request.version != "1.0":
                return self.refuse(400, "an HTTP/1.1 request needs a Host header")
        elif "," in host:  # repeated fields arrive joined with commas; a host has none
            return self.refuse(400, "a request may have only one Host header")
        timeout = headers.get(TIMEOUT_KEY)
        if timeout is not None and "," in timeout:
            return self.refuse(400, f"{TIMEOUT_KEY} was given more than once")
        return None

    def _operator(self, found: Route, request: HttpRequest) -> HttpAnswer:
        """Answer the operator endpoints (the caller was admitted): a description, the dashboard."""
        dispatcher = self.dispatcher
        if found.kind == "describe":
            hosted = next((c for c in dispatcher.components if c.name == found.path), None)
            if hosted is None:
                target = f"/describe/{found.path}"
                return self._not_found(request, target, f"no component {found.path} is hosted here")
            return HttpAnswer(200, msgspec.json.encode(describe_component(hosted)), "application/json")
        if self.dashboard is None:
            return self._not_found(request, "/dashboard", "/dashboard is off (auth.expose.dashboard)")
        if found.kind == "dashboard":
            return HttpAnswer(200, self.dashboard.page, "text/html; charset=utf-8", _PAGE_HEADERS)
        state = msgspec.json.encode(self.dashboard.state())
        return HttpAnswer(200, state, "application/json", (("Cache-Control", "no-store"),))

    def _not_found(self, request: HttpRequest, target: str, message: str) -> HttpAnswer:
        """404, or the 401 before it when authentication is configured and the caller is not known."""
        dispatcher = self.dispatcher
        metadata = metadata_from_headers(request.headers)
        refused = dispatcher.unauthenticated(target, metadata, request.peer_certificate)
        return _from(refused or dispatcher.error_response(404, message))


def _call(found: Route, request: HttpRequest) -> ServerRequest:
    headers = request.headers
    return ServerRequest(
        found.path,
        request.body,
        headers.get("content-type", ""),
        metadata_from_headers(headers),
        request.peer,
        request.peer_certificate,
        request.cancellation,  # the server cancels it when the caller goes away
    )


def _from(response: Response, headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    if response.metadata:  # the answer's metadata travels as headers, as the call's did
        headers = (*headers, *response.metadata.items())
    return HttpAnswer(response.status, response.body, response.content_type, headers)
