"""The server side of the HTTP channels as a WSGI application, for gunicorn and any WSGI server.

It answers exactly as the embedded server does (the same :class:`~._frontend.HttpFrontend`):
the routes of :mod:`._routes`, calls handed to the dispatcher with the request headers as
metadata, every error in the dispatcher's envelope. The body is read up to the limit (413
beyond it, from ``CONTENT_LENGTH`` before reading). Routing uses the raw request target when
the WSGI server provides one (gunicorn's ``RAW_URI``, ``REQUEST_URI``), so an encoded ``/`` is
refused rather than decoded into a route; otherwise ``PATH_INFO``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from container import ServiceManager
from container.plugin import Dispatcher

from ._dashboard import dashboard_for
from ._frontend import HttpFrontend
from ._protocol import REASONS, HttpAnswer, HttpRequest

StartResponse = Callable[..., Any]

DEFAULT_MAX_BODY_SIZE = 8 * 1024 * 1024
"""Largest request body the server accepts, in bytes."""


def headers_from_environ(environ: dict[str, Any]) -> dict[str, str]:
    """Return a WSGI request's header fields by lowercase name."""
    headers = {
        key[5:].lower().replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def target_of(environ: dict[str, Any]) -> str:
    """Return the request target as sent, when the WSGI server keeps it; else rebuild it."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    path = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")
    return f"{path}?{query}" if query else path


class ServiceApplication:
    """WSGI application serving every component a dispatcher hosts.

    Args:
        dispatcher: the dispatcher of the hosted components (a started ServiceManager is
            accepted too: a dispatcher of its hosted components is made from it).
        max_body_size: the largest request body accepted, in bytes (413 above it).
        debug: with a ServiceManager, append tracebacks to 500 answers.
        report: returns the plain-text report served on ``/report`` (None: the dispatcher's).
        metrics: returns the body and content type served on ``/metrics`` (None: 404; with a
            ServiceManager, its metrics when ``observability.metrics`` is on).

    With a ServiceManager, ``/describe/<component>`` and (when ``auth.expose.dashboard`` allows
    it) the dashboard are served too; with a bare dispatcher, ``/describe`` only.
    """

    def __init__(
        self,
        dispatcher: Dispatcher | ServiceManager,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        debug: bool = False,
        report: Callable[[], str] | None = None,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        dashboard = None
        if isinstance(dispatcher, ServiceManager):
            report = report or dispatcher.report
            observed = dispatcher.observability.metrics
            metrics = metrics or (observed.exposition if observed is not None else None)
            dashboard = dashboard_for(dispatcher)
            dispatcher = dispatcher.create_dispatcher(debug=debug)
        self.dispatcher = dispatcher
        self.max_body_size = max_body_size
        self.frontend = HttpFrontend(
            dispatcher, report or (lambda: describe_hosted(dispatcher)), metrics, dashboard
        )

    @property
    def in_flight(self) -> int:
        """The number of calls being executed now."""
        return self.dispatcher.in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight; return False when ``timeout`` ran out first."""
        return self.dispatcher.wait_idle(timeout)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        method = environ.get("REQUEST_METHOD", "GET")
        body = self._read_body(environ) if method == "POST" else b""
        if body is None:
            limit = self.max_body_size
            reply: HttpAnswer = self.frontend.refuse(
                413, f"the body is larger than the limit of {limit} bytes"
            )
        else:
            protocol = str(environ.get("SERVER_PROTOCOL", "HTTP/1.1"))
            request = HttpRequest(
                method,
                target_of(environ),
                headers_from_environ(environ),
                body,
                peer=environ.get("REMOTE_ADDR", ""),
                version="1.0" if protocol == "HTTP/1.0" else "1.1",
            )
            reply = self.frontend.answer(request)
        headers = [("Content-Length", str(len(reply.body))), *reply.headers]
        if reply.content_type:
            headers.insert(0, ("Content-Type", reply.content_type))
        start_response(f"{reply.status} {REASONS.get(reply.status, 'Unknown')}", headers)
        return [b""] if method == "HEAD" else [reply.body]

    def _read_body(self, environ: dict[str, Any]) -> bytes | None:
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size > self.max_body_size:
                return None
            if size >= 0:
                return stream.read(size)  # type: ignore[no-any-return]
        # No (valid) length: read at most one byte more than the limit to detect excess.
        body: bytes = stream.read(self.max_body_size + 1)
        return None if len(body) > self.max_body_size else body


def describe_hosted(dispatcher: Dispatcher) -> str:
    """The plain-text report of what a bare dispatcher hosts (``/report`` without a ServiceManager)."""
    lines = []
    for component in dispatcher.components:
        lines.append(f"component {component.name} ({component.type.__qualname__})")
        for service in component.services:
            lines.append(f"  service {service.name} ({service.type.__qualname__})")
            for method in service.methods.values():
                lines.append(f"    {method.name}{method.signature}")
    return "\n".join(lines) + "\n"
