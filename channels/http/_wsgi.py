"""The server side of the HTTP channels as a WSGI application: a thin adapter over the dispatcher.

Routes::

    POST /invoke/{component}/{service}/{method}   call a hosted service method
    GET  /health/{component}                      200 or 503 with the health document
    GET  /report                                  plain text: what is hosted
    GET  {endpoint}                               a component's @health(endpoint), if any

The application reads the body (413 over the limit), turns the request headers into call
metadata and hands everything to the :class:`~container.plugin.Dispatcher`, which routes,
checks, runs and answers. Everything it answers, errors included, is the dispatcher's
envelope in the request's codec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from container import ServiceManager
from container.plugin import RESERVED_METADATA, Dispatcher, Response

StartResponse = Callable[..., Any]

REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
    504: "504 Gateway Timeout",
}

DEFAULT_MAX_BODY_SIZE = 8 * 1024 * 1024
"""Largest request body the server accepts, in bytes."""

_INVOKE = "/invoke/"


def metadata_from_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """Return the call metadata a WSGI request carries: its headers, lowercase, framing ones left out."""
    metadata = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
            if name not in RESERVED_METADATA:
                metadata[name] = value
    return metadata


class ServiceApplication:
    """WSGI application serving every component a dispatcher hosts.

    Args:
        dispatcher: the dispatcher of the hosted components (a started ServiceManager is
            accepted too: a dispatcher of its hosted components is made from it).
        max_body_size: the largest request body accepted, in bytes (413 above it).
        debug: with a ServiceManager, append tracebacks to 500 answers.
        report: returns the plain-text report served on ``/report`` (None: the dispatcher's).
    """

    def __init__(
        self,
        dispatcher: Dispatcher | ServiceManager,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        debug: bool = False,
        report: Callable[[], str] | None = None,
    ) -> None:
        if isinstance(dispatcher, ServiceManager):
            report = report or dispatcher.report
            dispatcher = dispatcher.create_dispatcher(debug=debug)
        self.dispatcher = dispatcher
        self.max_body_size = max_body_size
        self._report = report
        self._health_paths = dispatcher.health_paths

    @property
    def in_flight(self) -> int:
        """The number of calls being executed now."""
        return self.dispatcher.in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight; return False when ``timeout`` ran out first."""
        return self.dispatcher.wait_idle(timeout)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        path: str = environ.get("PATH_INFO") or "/"
        if path.startswith(_INVOKE):
            return self._answer(start_response, self._invoke(path[len(_INVOKE) :], environ))
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self._answer(start_response, self.dispatcher.error_response(405, "use GET here"))
        component = path[len("/health/") :] if path.startswith("/health/") else self._health_paths.get(path)
        if component is not None:
            health = self.dispatcher.health(component)
            if health is not None:
                return self._answer(start_response, health)
        elif path == "/report":
            text = (self._report() if self._report is not None else self._default_report()).encode()
            start_response(
                REASONS[200],
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))],
            )
            return [text]
        return self._answer(start_response, self.dispatcher.error_response(404, f"nothing at {path}"))

    def _invoke(self, route: str, environ: dict[str, Any]) -> Response:
        dispatcher = self.dispatcher
        if environ.get("REQUEST_METHOD") != "POST":
            if dispatcher.has_route(route):
                return dispatcher.error_response(405, "service methods are called with POST")
            return dispatcher.error_response(404, f"no service method at {route}")
        body = self._read_body(environ)
        if body is None:
            return dispatcher.error_response(
                413, f"request body is larger than the limit of {self.max_body_size} bytes"
            )
        return dispatcher.dispatch(
            route,
            body,
            environ.get("CONTENT_TYPE", ""),
            metadata_from_environ(environ),
            environ.get("REMOTE_ADDR", ""),
        )

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

    @staticmethod
    def _answer(start_response: StartResponse, response: Response) -> Iterable[bytes]:
        start_response(
            REASONS.get(response.status, f"{response.status} Error"),
            [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))],
        )
        return [response.body]

    def _default_report(self) -> str:
        lines = []
        for component in self.dispatcher.components:
            lines.append(f"component {component.name} ({component.type.__qualname__})")
            for service in component.services:
                lines.append(f"  service {service.name} ({service.type.__qualname__})")
                for method in service.methods.values():
                    lines.append(f"    {method.name}{method.signature}")
        return "\n".join(lines) + "\n"
