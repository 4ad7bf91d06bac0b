"""The server side of the HTTP channels: a WSGI application over a ServiceManager.

Routes::

    POST /invoke/{component}/{service}/{method}   call a hosted service method
    GET  /health/{component}                      200 or 503 with the health document
    GET  /report                                  plain text: what is hosted
    GET  {endpoint}                               a component's @health(endpoint), if any

Only the public methods that a hosted service interface declares are routes; anything else
(``_private``, ``__class__``, methods that only the implementation has) is 404 and nothing is
executed. Errors answer ``{"error": {"type": ..., "message": ...}}`` in the request's codec.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from container import ComponentDescriptor, HealthStatus, ServiceManager
from container.codec import (
    CODECS,
    JSON_CODEC,
    Codec,
    CodecError,
    MethodCodec,
    codec_for,
    encode_error,
    exception_type_name,
)

from ._settings import DEFAULT_MAX_BODY_SIZE

logger = logging.getLogger("servicewire.http")

StartResponse = Callable[..., Any]

_REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    413: "413 Payload Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}

_ERROR_TYPES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


class _Route:
    __slots__ = ("codecs", "function")

    def __init__(self, function: Callable[..., Any], codecs: dict[str, MethodCodec]) -> None:
        self.function = function
        self.codecs = codecs


class ServiceApplication:
    """WSGI application serving every component a ServiceManager hosts.

    Args:
        manager: the started ServiceManager whose hosted components are served.
        max_body_size: the largest request body accepted, in bytes (413 above it).
        debug: include the traceback in the message of 500 answers.
    """

    def __init__(
        self,
        manager: ServiceManager,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        debug: bool = False,
    ) -> None:
        self.manager = manager
        self.max_body_size = max_body_size
        self.debug = debug
        self._routes: dict[str, _Route] = {}
        self._health: dict[str, ComponentDescriptor[Any]] = {}
        self._in_flight = 0
        self._idle = threading.Condition()
        for component in manager.hosted_components():
            self.add_component(component)

    def add_component(self, component: ComponentDescriptor[Any]) -> None:
        """Add the routes of a hosted component's services and health."""
        for service in component.services:
            implementation = (
                self.manager.get_instance(service.implementation)
                if (service.implementation is not None)
                else None
            )
            if implementation is None:
                continue
            for method in service.methods.values():
                codecs = {ct: MethodCodec(method, codec) for ct, codec in CODECS.items()}
                path = f"/invoke/{component.name}/{service.name}/{method.name}"
                self._routes[path] = _Route(getattr(implementation, method.name), codecs)
        self._health[f"/health/{component.name}"] = component
        if component.health_endpoint:
            self._health[component.health_endpoint] = component

    # in-flight calls

    @property
    def in_flight(self) -> int:
        """The number of calls being executed now."""
        return self._in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight; return False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # WSGI

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        path: str = environ.get("PATH_INFO") or "/"
        route = self._routes.get(path)
        if route is not None:
            return self._invoke(route, environ, start_response)
        if path.startswith("/invoke/"):
            return self._error(start_response, JSON_CODEC, 404, f"no service method at {path}")
        component = self._health.get(path)
        if component is not None:
            return self._health_document(component, start_response)
        if path == "/report":
            text = self.manager.report().encode()
            start_response(
                _REASONS[200],
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))],
            )
            return [text]
        return self._error(start_response, JSON_CODEC, 404, f"nothing at {path}")

    def _invoke(
        self, route: _Route, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "")
        codec = codec_for(content_type)
        if codec is None:
            known = ", ".join(CODECS)
            return self._error(
                start_response,
                JSON_CODEC,
                415,
                f"content type {content_type!r} is not supported; use one of {known}",
            )
        if environ.get("REQUEST_METHOD") != "POST":
            return self._error(start_response, codec, 405, "service methods are called with POST")
        body = self._read_body(environ)
        if body is None:
            return self._error(
                start_response,
                codec,
                413,
                f"request body is larger than the limit of {self.max_body_size} bytes",
            )
        method_codec = route.codecs[codec.content_type]
        try:
            args, kwargs = method_codec.decode_call(body)
        except CodecError as exc:
            return self._error(start_response, codec, 400, str(exc))
        with self._idle:
            self._in_flight += 1
        try:
            result = route.function(*args, **kwargs)
            out = method_codec.encode_result(result)
        except Exception as exc:
            message = str(exc)
            if self.debug:
                message += "\n" + traceback.format_exc()
            logger.debug("%s raised %r", method_codec.method.path, exc)
            return self._error(start_response, codec, 500, message, exception_type_name(exc))
        finally:
            with self._idle:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.notify_all()
        start_response(
            _REASONS[200], [("Content-Type", codec.content_type), ("Content-Length", str(len(out)))]
        )
        return [out]

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

    def _health_document(
        self, component: ComponentDescriptor[Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        instance: Any = self.manager.get_instance(component.implementation)  # type: ignore[arg-type]
        health = instance.get_health()
        body = JSON_CODEC.encode(
            {"component": component.name, "component_status": instance.get_status().value, **health.to_dict()}
        )
        status = 503 if health.status >= HealthStatus.ERROR else 200
        start_response(
            _REASONS[status], [("Content-Type", JSON_CODEC.content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _error(
        self,
        start_response: StartResponse,
        codec: Codec,
        status: int,
        message: str,
        type_name: str | None = None,
    ) -> Iterable[bytes]:
        body = encode_error(codec, type_name or _ERROR_TYPES.get(status, "Error"), message)
        start_response(
            _REASONS[status], [("Content-Type", codec.content_type), ("Content-Length", str(len(body)))]
        )
        return [body]
