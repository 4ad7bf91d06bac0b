"""What an HTTP request means, and the answer to it: shared by the embedded server and WSGI.

A request is routed strictly (see :mod:`._routes`); a call goes to the dispatcher with the
request's headers as its metadata (HTTP framing headers left out), and the answer's metadata
goes back as headers; health documents and the report are answered here, and every error is
the dispatcher's envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from container.plugin import RESERVED_METADATA, Dispatcher, Response, ServerRequest

from ._engine import HttpAnswer
from ._routes import route

_INVOKE_ALLOW = (("Allow", "POST, OPTIONS"),)
_READ_ALLOW = (("Allow", "GET, HEAD"),)


def metadata_from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the call metadata that request headers (lowercase names) carry."""
    return {name: value for name, value in headers.items() if name not in RESERVED_METADATA}


class HttpFrontend:
    """Answers HTTP requests for one server's dispatcher.

    Args:
        dispatcher: routes, checks, runs and answers the calls.
        report: returns the plain-text report served on ``/report``.
        metrics: returns the body and content type served on ``/metrics``, or None (404).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        report: Callable[[], str],
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.report = report
        self.metrics = metrics

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
        readable = found.kind in ("health", "report", "metrics") or component is not None
        if readable and method not in ("GET", "HEAD"):
            return _from(dispatcher.error_response(405, "use GET here"), _READ_ALLOW)
        if readable:
            endpoint = "health" if component is not None else found.kind
            refused = dispatcher.admit(endpoint, metadata_from_headers(headers), peer_certificate)
            if refused is not None:
                return _from(refused)
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


def _from(response: Response, headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    if response.metadata:  # the answer's metadata travels as headers, as the call's did
        headers = (*headers, *response.metadata.items())
    return HttpAnswer(response.status, response.body, response.content_type, headers)
