"""The dispatcher: the server side of every call, whatever listener received it.

A listener hands each request to :meth:`Dispatcher.dispatch` (bytes in, :class:`Response` out)
or, in process, :meth:`Dispatcher.call_local` (objects in and out). The dispatcher:

1. routes ``component/service/method`` to a hosted implementation method (404 otherwise: only
   public methods declared by the service interface are routes);
2. answers 503 without running anything once the server stops taking calls;
3. checks the deadline the caller sent (504, without running anything, when it has passed);
4. runs the server interceptors, outermost first (they may answer with a status by raising
   :class:`CallRejected`);
5. decodes the arguments when they are first needed (400 with the field path when they do
   not fit the signature) and runs the implementation, with the call's context current so
   that nested calls inherit its deadline;
6. encodes the result, or the error envelope (500) for what the implementation raised;
7. counts the calls in flight, so that every listener can drain.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..values._errors import (
    RemoteError,
    RemoteServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
    is_application_exception,
    public_type_name,
)
from ..values._status import Status, error_type_of
from ..wire._codec import (
    CODECS,
    JSON_CODEC,
    Codec,
    CodecError,
    MethodCodec,
    codec_for,
    encode_error,
    encode_exception,
    error_for_status,
)
from ._calls import CallNext, Interceptor, InterceptorLike, Invocation, ServerCall, compose
from ._context import TIMEOUT_KEY, CallContext, Identity, deadline_from_metadata, serving_variable
from ._messages import Response

if TYPE_CHECKING:
    from ..declarations._descriptors import ComponentDescriptor, MethodDescriptor

logger = logging.getLogger("servicewire.server")

_serving_set = serving_variable.set
_serving_reset = serving_variable.reset
_monotonic = time.monotonic

HEALTH_OK = 200
HEALTH_FAILING = 503

OK = Status.OK
BAD_REQUEST = Status.BAD_REQUEST
UNAUTHENTICATED = Status.UNAUTHENTICATED
NOT_FOUND = Status.NOT_FOUND
UNSUPPORTED_MEDIA_TYPE = Status.UNSUPPORTED_MEDIA_TYPE
INTERNAL_ERROR = Status.INTERNAL_ERROR
UNAVAILABLE = Status.UNAVAILABLE
DEADLINE_EXCEEDED = Status.DEADLINE_EXCEEDED


class CallRejected(Exception):
    """Raised on the server side to answer with a protocol status instead of running the call.

    A server interceptor raises it to refuse a call (an authenticator: 401; an authorization
    rule: 403); the dispatcher raises it when the arguments do not decode (400). The caller
    gets the exception documented for that status.

    Attributes:
        status: the status to answer with (400, 401, 403, 404, 413, 415, 503, 504).
        message: what to tell the caller.
        error_type: the error type name in the envelope (the status's standard name when "").
        kind: the machine-readable reason, sent as the envelope's ``kind`` ("" sends none; a
            400 for a body that does not decode sends its :class:`~container.codec.CodecErrorKind`).
    """

    def __init__(self, status: int, message: str, error_type: str = "", *, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_of(status)
        self.kind = kind


class CallerCheck(Protocol):
    """Who is calling, for the server's own endpoints: what the dispatcher needs of a guard.

    The security layer's ``Guard`` is one; the dispatcher names this protocol so that the call
    layer sits below security.
    """

    def caller(self, context: CallContext) -> Identity | None:
        """Return the caller's identity, or None for an anonymous caller.

        Raises:
            CallRejected: a credential was presented and is not valid (401).
        """


class _Route:
    __slots__ = ("chain", "codecs", "function", "method")

    def __init__(
        self,
        method: MethodDescriptor,
        function: Callable[..., Any],
        chain: CallNext | None,
        codecs: dict[str, MethodCodec],
    ) -> None:
        self.method = method
        self.function = function
        self.chain = chain  # None: no server interceptors, call the function directly
        self.codecs = codecs


class Dispatcher:
    """Routes, checks, runs and answers the calls of one server's hosted components.

    Created by the core when a server boots; listeners only call :meth:`dispatch` (or
    :meth:`call_local`), :meth:`error_response`, :meth:`health` and :meth:`wait_idle`.

    Args:
        components: the hosted components.
        implementation: returns the implementation object of a hosted service descriptor (None:
            the service is not served).
        component_instance: returns the component object of a hosted component (for health).
        interceptors: returns the server interceptors of a component, outermost first.
        codecs: the codecs requests may use, by content type.
        debug: answer unexpected exceptions with their message and traceback instead of a
            generic message (never where untrusted callers reach the server).
        health_endpoint: returns the extra health path a component declares (``@health``).
        guard: the authenticator and rules of the calls (None: no authentication); also
            decides who may read the server's own endpoints (:meth:`admit`).
        expose: who may read ``health``, ``report`` (and ``describe``), ``metrics`` and
            ``dashboard`` (attributes ``open``, ``authenticated`` or ``off``); None: health
            open, the dashboard off, the others authenticated.
    """

    def __init__(
        self,
        components: Sequence[ComponentDescriptor[Any]],
        implementation: Callable[[Any], Any],
        component_instance: Callable[[ComponentDescriptor[Any]], Any],
        interceptors: Callable[[str], Sequence[InterceptorLike]] = lambda component: (),
        codecs: Mapping[str, Codec] = CODECS,
        debug: bool = False,
        health_endpoint: Callable[[ComponentDescriptor[Any]], str | None] = lambda component: None,
        guard: CallerCheck | None = None,
        expose: Any = None,
    ) -> None:
        self.components = list(components)
        self.guard = guard
        defaults = {
            "health": "open",
            "report": "authenticated",
            "metrics": "authenticated",
            "dashboard": "off",
        }
        self.expose = {name: getattr(expose, name, default) for name, default in defaults.items()}
        self.expose["describe"] = self.expose["report"]  # the same information, as JSON
        self.codecs = dict(codecs)
        self.debug = debug
        self._component_instance = component_instance
        self._routes: dict[str, _Route] = {}
        self._by_method: dict[MethodDescriptor, _Route] = {}
        self._by_component: dict[str, ComponentDescriptor[Any]] = {}
        self._active: list[None] = []  # one entry per call in flight: append/pop are atomic
        self._accepting = True
        self.health_paths: dict[str, str] = {}
        """Extra health paths (``@health(endpoint)``) -> component name."""
        for component in self.components:
            self._by_component[component.name] = component
            endpoint = health_endpoint(component)
            if endpoint:
                self.health_paths[endpoint] = component.name
            chain_of = list(interceptors(component.name))
            for service in component.services:
                instance = implementation(service)
                if instance is None:
                    continue
                for method in service.methods.values():
                    function = getattr(instance, method.name)
                    route = _Route(
                        method,
                        function,
                        compose(chain_of, _terminal(function)) if chain_of else None,
                        {ct: MethodCodec(method, codec) for ct, codec in self.codecs.items()},
                    )
                    self._routes[method.path] = route
                    self._by_method[method] = route
        # The routes in-process calls may take: emptied when the server stops taking calls, so
        # the hot path tests one dictionary instead of a dictionary and a flag.
        self._local_routes = dict(self._by_method)

    # the call path

    def dispatch(
        self,
        path: str,
        body: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        peer: str = "",
        peer_certificate: dict[str, Any] | None = None,
    ) -> Response:
        """Answer one request.

        Args:
            path: ``component/service/method``.
            body: the encoded call.
            content_type: the request's content type (selects the codec; 415 if unknown).
            metadata: what the caller sent besides the body (lowercase keys), including
                ``sw-timeout-ms`` when the call has a deadline. A dict is kept as the call's
                context metadata: pass one of your own making, not one you reuse.
            peer: the caller's address as the listener saw it, for logs.
            peer_certificate: the caller's verified TLS client certificate, as
                :meth:`ssl.SSLSocket.getpeercert` returns it (mTLS), or None.

        Returns:
            The answer: 200 with the result, or an error status with the error envelope.
        """
        codec = codec_for(content_type)
        if codec is None or codec.content_type not in self.codecs:
            known = ", ".join(self.codecs)
            return self.error_response(
                UNSUPPORTED_MEDIA_TYPE, f"content type {content_type!r} is not supported; use one of {known}"
            )
        route = self._routes.get(path)
        if route is None:
            return self.error_response(NOT_FOUND, f"no service method at {path}", codec)
        if not self._accepting:
            return self.error_response(
                UNAVAILABLE, "the server is shutting down; the call did not run", codec
            )
        # The listener hands over a metadata dict of its own making: it becomes the context's.
        incoming = metadata if type(metadata) is dict else dict(metadata)
        deadline = deadline_from_metadata(incoming.pop(TIMEOUT_KEY, None))
        if deadline is not None and _monotonic() >= deadline:
            return self.error_response(DEADLINE_EXCEEDED, "the deadline passed before the call ran", codec)
        context = CallContext(incoming, deadline, None, peer, peer_certificate)
        method_codec = route.codecs[codec.content_type]
        active = self._active
        active.append(None)
        token = _serving_set(context)
        try:
            chain = route.chain
            if chain is None:
                try:
                    args, kwargs = method_codec.decode_call(body)
                except CodecError as exc:
                    raise CallRejected(BAD_REQUEST, str(exc), kind=exc.kind.value) from None
                result = route.function(*args, **kwargs)
            else:
                result = chain(
                    ServerCall(
                        route.method, context, _decoder(method_codec, body), content_type=codec.content_type
                    )
                )
            out = method_codec.encode_result(result)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec, exc.error_type, kind=exc.kind)
        except Exception as exc:
            return self._failure(route, codec, exc)
        finally:
            _serving_reset(token)
            active.pop()
        return Response(OK, out, codec.content_type)

    def check(
        self,
        path: str,
        content_type: str,
        metadata: Mapping[str, str],
        peer: str = "",
        peer_certificate: dict[str, Any] | None = None,
    ) -> Response | None:
        """Route a call and authenticate its caller without running it or reading its body.

        For listeners that answer ``Expect: 100-continue``: the client sends the body only
        once this returns None. The call itself still goes through :meth:`dispatch`.

        Args:
            path: ``component/service/method``.
            content_type: the request's content type (the codec of the answer).
            metadata: what the caller sent besides the body (lowercase keys).
            peer: the caller's address as the listener saw it.
            peer_certificate: the caller's verified TLS client certificate, or None.

        Returns:
            None when the call would run; else the answer to give at once: 404 (no such
            method), 503 (shutting down), 504 (the deadline passed), 401 or 403 (the caller's
            credential or the method's rule).
        """
        codec = codec_for(content_type)
        route = self._routes.get(path)
        if route is None:
            return self.error_response(NOT_FOUND, f"no service method at {path}", codec)
        if not self._accepting:
            return self.error_response(
                UNAVAILABLE, "the server is shutting down; the call did not run", codec
            )
        incoming = dict(metadata)
        deadline = deadline_from_metadata(incoming.pop(TIMEOUT_KEY, None))
        if deadline is not None and _monotonic() >= deadline:
            return self.error_response(DEADLINE_EXCEEDED, "the deadline passed before the call ran", codec)
        guard = self.guard
        if not isinstance(guard, Interceptor):  # none, or one that only identifies callers
            return None
        context = CallContext(incoming, deadline, None, peer, peer_certificate)
        try:
            # The guard's own decision (credential, then the method's rule), with nothing after it.
            guard.intercept(ServerCall(route.method, context, None), lambda call: None)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec, exc.error_type)
        return None

    def call_local(self, invocation: Invocation) -> Any:
        """Run a call made in this process, without encoding anything.

        The same rules as for a remote call apply: the deadline is checked, the server
        interceptors run, and what the implementation raises reaches the caller as it would
        over the wire: an application exception as itself, anything else as
        :class:`~container.RemoteServiceException` (chained to the original, ``from``).

        Raises:
            ServiceUnavailableException: this dispatcher does not host the service, or the
                server stopped taking calls (nothing ran; ``sent`` is False).
            ServiceTimeoutException: the deadline had passed (nothing ran).
        """
        route = self._local_routes.get(invocation.method)
        if route is None:
            what = (
                "is shutting down and did not run"
                if invocation.method in self._by_method
                else "does not host"
            )
            raise ServiceUnavailableException(
                f"this process's dispatcher {what} {invocation.method.path}", invocation.url, sent=False
            )
        context = invocation.context
        deadline = context.deadline
        if deadline is not None and _monotonic() >= deadline:
            raise ServiceTimeoutException(invocation.url, "deadline", 0.0, sent=False)
        # In process, the caller's context object is the served one: no copy on this path.
        active = self._active
        active.append(None)
        token = _serving_set(context)
        try:
            chain = route.chain
            if chain is None:
                kwargs = invocation._kwargs
                if kwargs:
                    return route.function(*invocation._args, **kwargs)
                return route.function(*invocation._args)
            return chain(ServerCall(route.method, context, None, invocation._args, invocation._kwargs))
        except CallRejected as exc:
            raise error_for_status(
                JSON_CODEC,
                exc.status,
                encode_error(JSON_CODEC, exc.error_type, exc.message, kind=exc.kind),
                invocation.url,
                route.method.path,
            ) from None
        except Exception as exc:
            if is_application_exception(type(exc)):
                raise
            error_id, message = self._hide(route.method.path, exc)
            raise _as_remote(exc, route.method.path, error_id, message) from exc
        finally:
            _serving_reset(token)
            active.pop()

    def _failure(self, route: _Route, codec: Codec, exc: Exception) -> Response:
        if is_application_exception(type(exc)):
            # Part of the interface: its message and fields go to the caller as they are.
            return Response(INTERNAL_ERROR, encode_exception(codec, exc), codec.content_type)
        error_id, message = self._hide(route.method.path, exc)
        body = encode_exception(codec, exc, error_id=error_id, message=message)
        return Response(INTERNAL_ERROR, body, codec.content_type)

    def _hide(self, path: str, exc: BaseException) -> tuple[str, str]:
        """Log an unexpected exception with its traceback; return (error id, what the caller reads).

        The caller learns the exception's public type name and the error id, never its message
        (which may hold paths, passwords, data) unless the server runs in debug mode. A failure
        relayed from a further hop (a RemoteServiceException) keeps its already-public text.
        """
        error_id = uuid.uuid4().hex[:16]
        logger.error("%s failed (error id %s)", path, error_id, exc_info=exc)
        if self.debug:
            return error_id, f"{exc}\n{''.join(traceback.format_exception(exc))}"
        if isinstance(exc, RemoteServiceException):
            return error_id, exc.remote_message
        return error_id, f"internal error; the server logged it with error id {error_id}"

    # answers listeners give themselves

    def error_response(
        self,
        status: int,
        message: str,
        codec: Codec | None = None,
        error_type: str = "",
        *,
        kind: str = "",
    ) -> Response:
        """Return an error answer in the envelope (JSON when no codec is known yet).

        Listeners use it for what they refuse before dispatching (413, 405, a malformed
        request line), so that every error has the same shape. ``kind``, when given, is sent
        as the envelope's machine-readable ``kind``.
        """
        codec = codec or JSON_CODEC
        body = encode_error(codec, error_type or error_type_of(status), message, kind=kind)
        return Response(status, body, codec.content_type)

    def admit(
        self, endpoint: str, metadata: Mapping[str, str], peer_certificate: dict[str, Any] | None = None
    ) -> Response | None:
        """Decide whether a caller may read one of the server's own endpoints.

        Args:
            endpoint: ``"health"``, ``"report"``, ``"describe"``, ``"metrics"`` or ``"dashboard"``.
            metadata: what the caller sent (the ``authorization`` key for a bearer token).
            peer_certificate: the caller's TLS client certificate, or None.

        Returns:
            None when the caller may read it; else the answer to give: 404 when the endpoint
            is off, 401 when it needs an authenticated caller and this one is not.
        """
        exposure = self.expose.get(endpoint, "off")
        if exposure == "open":
            return None
        key = "report" if endpoint == "describe" else endpoint
        if exposure == "off":
            return self.error_response(NOT_FOUND, f"/{endpoint} is off (auth.expose.{key})")
        if self.guard is None:
            return self.error_response(
                UNAUTHENTICATED,
                f"/{endpoint} needs an authenticated caller and no authenticator is configured "
                f"(set auth.bearer, auth.jwt or auth.mtls, or auth.expose.{key}: open)",
            )
        context = CallContext(dict(metadata), None, None, "", peer_certificate)
        try:
            identity = self.guard.caller(context)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message)
        if identity is None:
            return self.error_response(UNAUTHENTICATED, f"/{endpoint} needs an authenticated caller")
        return None

    def has_route(self, path: str) -> bool:
        """Return True when ``component/service/method`` is a hosted method."""
        return path in self._routes

    def health(self, component: str) -> Response | None:
        """Return the health document of a hosted component (200, or 503 when ERROR), or None.

        A component whose health cannot be computed (a failing check class, a broken
        ``get_health``) is reported as ERROR with the reason, never as an exception.
        """
        descriptor = self._by_component.get(component)
        if descriptor is None:
            return None
        from ..declarations._health import Health, HealthResult, HealthStatus

        try:
            instance = self._component_instance(descriptor)
            status_name = instance.get_status().value
            health = instance.get_health()
        except Exception as exc:  # a broken health is a finding, not a crash
            status_name = "unknown"
            health = Health(
                HealthStatus.ERROR,
                (HealthResult("health", HealthStatus.ERROR, f"{type(exc).__name__}: {exc}"),),
            )
        document = {"component": component, "component_status": status_name, **health.to_dict()}
        status = HEALTH_FAILING if health.status >= HealthStatus.ERROR else HEALTH_OK
        return Response(status, JSON_CODEC.encode(document), JSON_CODEC.content_type)

    # lifecycle

    @property
    def in_flight(self) -> int:
        """The number of calls being run now."""
        return len(self._active)

    @property
    def accepting(self) -> bool:
        """False once :meth:`stop_taking_calls` ran: new calls are answered 503."""
        return self._accepting

    def stop_taking_calls(self) -> None:
        """Answer new calls with 503 (the caller may try elsewhere); calls in flight go on."""
        self._accepting = False
        self._local_routes = {}

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight; return False when ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while self._active:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True


def _decoder(method_codec: MethodCodec, body: bytes) -> Callable[[], tuple[list[Any], dict[str, Any]]]:
    """The lazy decoding of a ServerCall's arguments: a body that does not decode is a 400."""

    def decode() -> tuple[list[Any], dict[str, Any]]:
        try:
            return method_codec.decode_call(body)
        except CodecError as exc:
            raise CallRejected(BAD_REQUEST, str(exc), kind=exc.kind.value) from None

    return decode


def _terminal(function: Callable[..., Any]) -> CallNext:
    def run(call: Any) -> Any:
        return function(*call.args, **call.kwargs)

    return run


def _as_remote(exc: BaseException, path: str, error_id: str, message: str) -> RemoteServiceException:
    chain: tuple[RemoteError, ...] = ()
    if isinstance(exc, RemoteServiceException):
        chain = (RemoteError(exc.remote_type, exc.remote_message, exc.path), *exc.chain)
    return RemoteServiceException(public_type_name(type(exc)), message, INTERNAL_ERROR, chain, error_id, path)
