"""The dispatcher: the server side of every call, whatever listener received it.

A listener hands each request to :meth:`Dispatcher.handle` (one :class:`ServerRequest` in, a
:class:`Response` out), an asyncio listener to :meth:`Dispatcher.handle_async`, or, in
process, :meth:`Dispatcher.call_local` / :meth:`Dispatcher.call_local_async` (objects in and
out). The routes are compiled once, when the dispatcher is made: per method, its codec per
content type, the server interceptors composed around the implementation function (an async
chain for an ``async def`` method). For each call the dispatcher:

1. routes ``component/service/method`` to a hosted implementation method (404 otherwise: only
   public methods declared by the service interface are routes; with authentication
   configured, a caller that is not authenticated gets the 401 a hosted method would give,
   so that it cannot tell what is hosted: :meth:`Dispatcher.unauthenticated`);
2. answers 503 without running anything once the server stops taking calls;
3. checks the deadline the caller sent (504, without running anything, when it has passed);
4. runs the server interceptors, outermost first (they may answer with a status by raising
   :class:`CallRejected`);
5. decodes the arguments when they are first needed (400 with the field path when they do
   not fit the signature) and runs the implementation, with the call's context current so
   that nested calls inherit its deadline: a ``def`` implementation on the listener's thread
   (or, from :meth:`~Dispatcher.handle_async`, in the dispatcher's worker pool), an ``async
   def`` one on an event loop (the listener's, or the dispatcher's own: one loop, started on
   first use), where it is cancelled when the deadline passes or the listener reports its
   caller gone (:class:`~container.plugin.Cancellation`);
6. encodes the result, or the error envelope for what the implementation raised: a failure
   of a call the implementation made (a deadline, an unreachable or refusing dependency) is
   relayed with its status and message; anything unexpected is hidden behind an error id;
7. answers with the metadata the implementation or an interceptor set
   (:func:`~container.set_response_metadata`);
8. counts the calls in flight, so that every listener can drain.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..config._runtime import shared_workers
from ..config._workers import BackgroundLoop, Workers
from ..values._errors import (
    DEPENDENCY_FAILED,
    BlockingCallException,
    RemoteError,
    RemoteServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
    is_application_exception,
    public_type_name,
    relayed_status,
)
from ..values._redact import redact_credentials
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
from ._aio import UNBOUNDED, Deadline, in_thread, within
from ._calls import Arguments, CallNext, Interceptor, InterceptorLike, Invocation, ServerCall, compose
from ._context import (
    NO_METADATA,
    TIMEOUT_KEY,
    CallContext,
    Identity,
    Metadata,
    Serving,
    hand_back,
    serving_variable,
    timeout_milliseconds,
)
from ._messages import Response, ServerRequest

if TYPE_CHECKING:
    from ..declarations._descriptors import ComponentDescriptor, MethodDescriptor
    from ..declarations._health import Health

logger = logging.getLogger("servicewire.server")

_T = TypeVar("_T")

_serving_get = serving_variable.get
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

CANCELLED = "Cancelled"
"""The error type of the answer to a call whose caller went away (nobody reads it)."""

WORKERS = 8
"""Threads of a dispatcher's worker pool: sync implementations called through handle_async."""


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
    """What the dispatcher compiled for one hosted method: run it, decode and encode for it."""

    __slots__ = ("chain", "codecs", "function", "is_async", "method")

    def __init__(
        self,
        method: MethodDescriptor,
        function: Callable[..., Any],
        interceptors: Sequence[InterceptorLike],
        codecs: dict[str, MethodCodec],
        workers: Workers,
    ) -> None:
        self.method = method
        self.function = function
        self.is_async = method.is_async  # its implementation is `async def` too (hosting checks it)
        # None: no server interceptors, the function is called directly.
        self.chain: CallNext | None = None
        if interceptors:
            hops = workers.hops if self.is_async else None
            self.chain = compose(interceptors, _terminal(function), hops, method.path)
        self.codecs = codecs


class Dispatcher:
    """Routes, checks, runs and answers the calls of one server's hosted components.

    Created by the core when a server boots; listeners only call :meth:`handle` (or
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
        expose: who may read ``health``, ``health_details``, ``report`` (and ``describe``),
            ``metrics`` and ``dashboard`` (attributes ``open``, ``authenticated`` or ``off``);
            None: health open with its details to authenticated callers, the dashboard off,
            the others authenticated.
        workers: the runtime's workers (where sync-only interceptors of async methods run);
            None: the process's shared ones.
        threads: the threads of the worker pool that runs ``def`` implementations for
            :meth:`handle_async` (made on first use).
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
        workers: Workers | None = None,
        threads: int = WORKERS,
    ) -> None:
        self.components = list(components)
        self.workers = workers if workers is not None else shared_workers()
        self.threads = threads
        self._loop = BackgroundLoop("servicewire-dispatcher")
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.guard = guard
        defaults = {
            "health": "open",
            "health_details": "authenticated",
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
        self._health_logged: dict[str, tuple[Any, ...]] = {}  # component -> the health last logged
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
                    codecs_of = {ct: MethodCodec(method, codec) for ct, codec in self.codecs.items()}
                    route = _Route(method, getattr(instance, method.name), chain_of, codecs_of, self.workers)
                    self._routes[method.path] = route
                    self._by_method[method] = route
        # The routes of `def` methods in-process calls may take: emptied when the server stops
        # taking calls, so the hot path tests one dictionary instead of a dictionary and a flag.
        # (Async methods take the miss path: their callers await call_local_async.)
        self._local_routes = {m: route for m, route in self._by_method.items() if not route.is_async}

    # the call path

    def handle(self, request: ServerRequest) -> Response:
        """Answer one request: route, check, run the interceptors and the implementation, encode.

        An ``async def`` implementation runs on the dispatcher's event loop while this thread
        waits; it is cancelled when the deadline passes (504) or ``request.cancellation`` is
        cancelled.

        Returns:
            The answer: 200 with the result, or an error status with the error envelope; with
            the metadata the implementation or an interceptor set for it.
        """
        # _prepare, inline: the hot path of every listener saves a call.
        codec = codec_for(request.content_type)
        if codec is None or codec.content_type not in self.codecs:
            known = ", ".join(self.codecs)
            return self.error_response(
                UNSUPPORTED_MEDIA_TYPE,
                f"content type {request.content_type!r} is not supported; use one of {known}",
            )
        route = self._routes.get(request.path)
        if route is None and self.guard is None:
            return self.error_response(NOT_FOUND, f"no service method at {request.path}", codec)
        if not self._accepting:
            return self.error_response(
                UNAVAILABLE, "the server is shutting down; the call did not run", codec
            )
        try:
            metadata, budget = _received(request.metadata)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec)
        deadline = None
        if budget is not None:
            if budget <= 0:
                return self.error_response(
                    DEADLINE_EXCEEDED, "the deadline passed before the call ran", codec
                )
            deadline = _monotonic() + budget
        if route is None:  # authentication is configured: answered as a hosted method would be
            return self._no_route(request, metadata, codec)
        context = CallContext(metadata, deadline, None, request.peer, request.peer_certificate, budget)
        serving = Serving(context)
        if route.is_async:
            return self._handle_on_loop(route, codec, serving, request)
        return self._run(route, codec, serving, request.body)

    async def handle_async(self, request: ServerRequest) -> Response:
        """Answer one request from an event loop (an ASGI application, an asyncio listener).

        The same steps as :meth:`handle`: an ``async def`` implementation runs on the running
        loop, a ``def`` one in the dispatcher's worker pool (never blocking the loop).
        Cancelling the awaiting task (or ``request.cancellation``) cancels an async
        implementation; a sync one finishes in its thread.
        """
        prepared = self._prepare(request)
        if type(prepared) is Response:
            return prepared
        route, codec, serving = prepared  # type: ignore[misc]
        if not route.is_async:
            return await in_thread(self._workers_pool(), self._run, route, codec, serving, request.body)  # type: ignore[no-any-return]
        cancellation = request.cancellation
        if cancellation is not None:
            task, loop = asyncio.current_task(), asyncio.get_running_loop()
            if task is not None:
                cancellation.on_cancel(lambda: loop.call_soon_threadsafe(task.cancel))
        return await self._run_async(route, codec, serving, request.body)

    def _prepare(self, request: ServerRequest) -> tuple[_Route, Codec, Serving] | Response:
        """The checks before a call runs: content type, route, accepting, deadline; or the answer."""
        codec = codec_for(request.content_type)
        if codec is None or codec.content_type not in self.codecs:
            known = ", ".join(self.codecs)
            return self.error_response(
                UNSUPPORTED_MEDIA_TYPE,
                f"content type {request.content_type!r} is not supported; use one of {known}",
            )
        route = self._routes.get(request.path)
        if route is None and self.guard is None:
            return self.error_response(NOT_FOUND, f"no service method at {request.path}", codec)
        if not self._accepting:
            return self.error_response(
                UNAVAILABLE, "the server is shutting down; the call did not run", codec
            )
        try:
            metadata, budget = _received(request.metadata)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec)
        deadline = None
        if budget is not None:
            if budget <= 0:
                return self.error_response(
                    DEADLINE_EXCEEDED, "the deadline passed before the call ran", codec
                )
            deadline = _monotonic() + budget
        if route is None:  # authentication is configured: answered as a hosted method would be
            return self._no_route(request, metadata, codec)
        context = CallContext(metadata, deadline, None, request.peer, request.peer_certificate, budget)
        return route, codec, Serving(context)

    def is_async(self, path: str) -> bool:
        """Return True when ``component/service/method`` is a hosted ``async def`` method.

        A listener may use it to hand such calls straight to an event loop.
        """
        route = self._routes.get(path)
        return route is not None and route.is_async

    def dispatch(
        self,
        path: str,
        body: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        peer: str = "",
        peer_certificate: dict[str, Any] | None = None,
    ) -> Response:
        """Answer one request given field by field: :meth:`handle` of a :class:`ServerRequest`.

        The form of earlier releases, kept for listeners written to it; new listeners call
        :meth:`handle`.
        """
        return self.handle(ServerRequest(path, body, content_type, metadata, peer, peer_certificate))

    def _run(self, route: _Route, codec: Codec, serving: Serving, body: bytes) -> Response:
        method_codec = route.codecs[codec.content_type]
        active = self._active
        active.append(None)
        token = _serving_set(serving)
        try:
            chain = route.chain
            if chain is None:
                try:  # _decoded, inline: the hot path of a call without interceptors
                    args, kwargs = method_codec.decode_call(body)
                except CodecError as exc:
                    raise CallRejected(BAD_REQUEST, str(exc), kind=exc.kind.value) from None
                result = route.function(*args, **kwargs)
            else:
                arguments = Arguments(lambda: _decoded(method_codec, body))
                result = chain(ServerCall(route.method, serving.context, arguments, codec.content_type))
            out = method_codec.encode_result(result)
        except CallRejected as exc:
            return self.error_response(
                exc.status, exc.message, codec, exc.error_type, kind=exc.kind, metadata=serving.answer
            )
        except Exception as exc:
            return self._failure(route, codec, exc, serving.answer)
        finally:
            _serving_reset(token)
            active.pop()
        return Response(OK, out, codec.content_type, serving.answer)

    async def _run_async(self, route: _Route, codec: Codec, serving: Serving, body: bytes) -> Response:
        """:meth:`_run` of an ``async def`` implementation, cancelled when the deadline passes."""
        method_codec = route.codecs[codec.content_type]
        active = self._active
        active.append(None)
        token = _serving_set(serving)
        deadline = serving.context.deadline
        try:
            with UNBOUNDED if deadline is None else Deadline(deadline, CallRejected, *_STOPPED):
                chain = route.chain
                if chain is None:
                    args, kwargs = _decoded(method_codec, body)
                    result = await route.function(*args, **kwargs)
                else:
                    arguments = Arguments(lambda: _decoded(method_codec, body))
                    call = ServerCall(route.method, serving.context, arguments, codec.content_type)
                    result = await chain(call)
            out = method_codec.encode_result(result)
        except CallRejected as exc:
            return self.error_response(
                exc.status, exc.message, codec, exc.error_type, kind=exc.kind, metadata=serving.answer
            )
        except Exception as exc:
            return self._failure(route, codec, exc, serving.answer)
        finally:
            _serving_reset(token)
            active.pop()
        return Response(OK, out, codec.content_type, serving.answer)

    def _handle_on_loop(
        self, route: _Route, codec: Codec, serving: Serving, request: ServerRequest
    ) -> Response:
        """Run an async route for a sync listener: on the dispatcher's loop, this thread waiting."""
        future = self._submit(self._run_async(route, codec, serving, request.body))
        cancellation = request.cancellation
        if cancellation is not None:
            cancellation.on_cancel(future.cancel)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            return self.error_response(
                INTERNAL_ERROR, "the call was cancelled: its caller went away", codec, CANCELLED
            )

    def _submit(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule a coroutine on the dispatcher's loop (started now if it is not running)."""
        if self._loop.in_loop_thread():
            coroutine.close()
            raise BlockingCallException(
                "a sync call waits on the dispatcher's own event loop for work of that loop; "
                "await the async method instead (docs/async.md)"
            )
        return self._loop.submit(coroutine)

    def _blocking(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run a coroutine on the dispatcher's loop and wait for it (an interrupt cancels it)."""
        future = self._submit(coroutine)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def _workers_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.threads, thread_name_prefix="servicewire-dispatcher-worker"
                    )
                pool = self._pool
        return pool

    def check(self, request: ServerRequest) -> Response | None:
        """Route a call and authenticate its caller without running it or reading its body.

        For listeners that answer ``Expect: 100-continue``: the client sends the body only
        once this returns None (``request.body`` is not read: pass ``b""``). The call itself
        still goes through :meth:`handle`.

        Returns:
            None when the call would run; else the answer to give at once: 404 (no such
            method), 503 (shutting down), 504 (the deadline passed), 401 or 403 (the caller's
            credential or the method's rule).
        """
        codec = codec_for(request.content_type)
        route = self._routes.get(request.path)
        if route is None and self.guard is None:
            return self.error_response(NOT_FOUND, f"no service method at {request.path}", codec)
        if not self._accepting:
            return self.error_response(
                UNAVAILABLE, "the server is shutting down; the call did not run", codec
            )
        try:
            metadata, budget = _received(request.metadata)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec)
        if budget is not None and budget <= 0:
            return self.error_response(DEADLINE_EXCEEDED, "the deadline passed before the call ran", codec)
        if route is None:
            return self._no_route(request, metadata, codec)
        guard = self.guard
        if not isinstance(guard, Interceptor):  # none, or one that only identifies callers
            return None
        deadline = None if budget is None else _monotonic() + budget
        context = CallContext(metadata, deadline, None, request.peer, request.peer_certificate, budget)
        try:
            # The guard's own decision (credential, then the method's rule), with nothing after it.
            guard.intercept(ServerCall(route.method, context, Arguments()), lambda call: None)
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec, exc.error_type)
        return None

    def call_local(self, invocation: Invocation, url: str = "") -> Any:
        """Run a call made in this process, without encoding anything.

        The same rules as for a remote call apply: the deadline is checked, the server
        interceptors run, and what the implementation raises reaches the caller as it would
        over the wire: an application exception as itself, a dependency's failure relayed as
        :class:`~container.RemoteServiceException` with its status, anything else as
        :class:`~container.RemoteServiceException` hiding its message (chained to the original,
        ``from``). The answer's metadata is handed back to the caller, which runs on this
        thread.

        Args:
            invocation: the call, as the caller's chain passed it on.
            url: the URL the caller reached this dispatcher by, for messages.

        Raises:
            ServiceUnavailableException: this dispatcher does not host the service, or the
                server stopped taking calls (nothing ran; ``sent`` is False).
            ServiceTimeoutException: the deadline had passed (nothing ran).
        """
        route = self._local_routes.get(invocation.method)
        if route is None:
            return self._call_local_async_route(invocation, url)
        context = invocation.context
        deadline = context.deadline
        if deadline is not None and _monotonic() >= deadline:
            raise ServiceTimeoutException(url, "deadline", 0.0, sent=False)
        # In process, the caller's context object is the served one: no copy on this path.
        serving = Serving(context)
        active = self._active
        active.append(None)
        token = _serving_set(serving)
        try:
            chain = route.chain
            if chain is None:
                kwargs = invocation._kwargs
                if kwargs:
                    return route.function(*invocation._args, **kwargs)
                return route.function(*invocation._args)
            arguments = Arguments(None, invocation._args, invocation._kwargs)
            return chain(ServerCall(route.method, context, arguments))
        except CallRejected as exc:
            raise _rejected(exc, url, route.method.path) from None
        except Exception as exc:
            if is_application_exception(type(exc)):
                raise
            raise self._local_failure(route.method.path, exc) from exc
        finally:
            _serving_reset(token)
            active.pop()
            if serving.answer:
                hand_back(invocation, serving.answer)

    async def call_local_async(self, invocation: Invocation, url: str = "") -> Any:
        """Run a call of an ``async def`` method made in this process, on the caller's event loop.

        The rules of :meth:`call_local`; the implementation runs on the running loop, inside
        the caller's task, so the caller's deadline and cancellation reach it directly.

        Raises:
            ServiceUnavailableException: as for :meth:`call_local`.
            ServiceTimeoutException: the deadline had passed (nothing ran).
        """
        route = self._local_route(invocation, url)
        if not route.is_async:  # a transport's thread serves a `def` method
            return await in_thread(self._workers_pool(), self.call_local, invocation, url)
        serving = Serving(invocation.context)
        try:
            return await self._serve_local(route, invocation, serving, url)
        finally:
            if serving.answer:
                hand_back(invocation, serving.answer)

    def _call_local_async_route(self, invocation: Invocation, url: str) -> Any:
        """:meth:`call_local` of an ``async def`` method (for a transport without ``call_async``).

        It runs on the dispatcher's loop, bounded by the deadline, while this thread waits.
        """
        route = self._local_route(invocation, url)
        context = invocation.context
        serving = Serving(context)
        coroutine = self._serve_local(route, invocation, serving, url)
        if context.deadline is not None:
            budget = context.budget or 0.0
            coroutine = within(coroutine, context.deadline, ServiceTimeoutException, url, "deadline", budget)
        try:
            return self._blocking(coroutine)
        finally:
            if serving.answer:
                hand_back(invocation, serving.answer)

    def _local_route(self, invocation: Invocation, url: str) -> _Route:
        """The route of an in-process call of an async method, checked as :meth:`call_local` checks."""
        route = self._by_method.get(invocation.method)
        if route is None or not self._accepting:
            what = "is shutting down and did not run" if route is not None else "does not host"
            raise ServiceUnavailableException(
                f"this process's dispatcher {what} {invocation.method.path}", url, sent=False
            )
        deadline = invocation.context.deadline
        if deadline is not None and _monotonic() >= deadline:
            raise ServiceTimeoutException(url, "deadline", 0.0, sent=False)
        return route

    async def _serve_local(self, route: _Route, invocation: Invocation, serving: Serving, url: str) -> Any:
        """Run an in-process call of an ``async def`` method: interceptors, implementation, errors."""
        active = self._active
        active.append(None)
        token = _serving_set(serving)
        try:
            chain = route.chain
            if chain is None:
                return await route.function(*invocation._args, **invocation._kwargs)
            arguments = Arguments(None, invocation._args, invocation._kwargs)
            return await chain(ServerCall(route.method, invocation.context, arguments))
        except CallRejected as exc:
            raise _rejected(exc, url, route.method.path) from None
        except Exception as exc:
            if is_application_exception(type(exc)):
                raise
            raise self._local_failure(route.method.path, exc) from exc
        finally:
            _serving_reset(token)
            active.pop()

    # failures

    def _failure(self, route: _Route, codec: Codec, exc: Exception, metadata: Metadata) -> Response:
        """The answer to what an implementation (or an interceptor) raised."""
        if is_application_exception(type(exc)):
            # Part of the interface: its message and fields go to the caller as they are.
            return Response(INTERNAL_ERROR, encode_exception(codec, exc), codec.content_type, metadata)
        status = relayed_status(exc)
        if status is not None:
            error_id = self._relay(route.method.path, exc)
            body = encode_exception(codec, exc, error_id, _public_message(exc), kind=DEPENDENCY_FAILED)
            return Response(status, body, codec.content_type, metadata)
        error_id, message = self._hide(route.method.path, exc)
        body = encode_exception(codec, exc, error_id=error_id, message=message)
        return Response(INTERNAL_ERROR, body, codec.content_type, metadata)

    def _local_failure(self, path: str, exc: Exception) -> RemoteServiceException:
        """What an in-process caller gets for what an implementation raised (no application exception)."""
        chain: tuple[RemoteError, ...] = ()
        if isinstance(exc, RemoteServiceException):
            chain = (RemoteError(exc.remote_type, exc.remote_message, exc.path), *exc.chain)
        status = relayed_status(exc)
        if status is not None:
            error_id = self._relay(path, exc)
            message, kind = _public_message(exc), DEPENDENCY_FAILED
        else:
            error_id, message = self._hide(path, exc)
            status, kind = INTERNAL_ERROR, ""
        return RemoteServiceException(
            public_type_name(type(exc)), message, status, chain, error_id, path, kind=kind
        )

    def _relay(self, path: str, exc: Exception) -> str:
        """Log a dependency's failure once, at WARNING and without a traceback; return its error id."""
        error_id = uuid.uuid4().hex[:16]
        logger.warning(
            "%s failed because a call it made failed (error id %s): %s: %s",
            path,
            error_id,
            public_type_name(type(exc)),
            _public_message(exc),
        )
        return error_id

    def _hide(self, path: str, exc: BaseException) -> tuple[str, str]:
        """Log an unexpected exception with its traceback; return (error id, what the caller reads).

        The caller learns the exception's public type name and the error id, never its message
        (which may hold paths, passwords, data) unless the server runs in debug mode.
        """
        error_id = uuid.uuid4().hex[:16]
        logger.error("%s failed (error id %s)", path, error_id, exc_info=exc)
        if self.debug:
            return error_id, f"{exc}\n{''.join(traceback.format_exception(exc))}"
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
        metadata: Mapping[str, str] = NO_METADATA,
    ) -> Response:
        """Return an error answer in the envelope (JSON when no codec is known yet).

        Listeners use it for what they refuse before dispatching (413, 405, a malformed
        request line), so that every error has the same shape. ``kind``, when given, is sent
        as the envelope's machine-readable ``kind``; ``metadata`` goes with the answer.
        """
        codec = codec or JSON_CODEC
        body = encode_error(codec, error_type or error_type_of(status), message, kind=kind)
        return Response(status, body, codec.content_type, metadata)

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
            is off (401 instead to a caller that is not authenticated, when authentication is
            configured), 401 when it needs an authenticated caller and this one is not.
        """
        exposure = self.expose.get(endpoint, "off")
        if exposure == "open":
            return None
        key = "report" if endpoint == "describe" else endpoint
        if exposure == "off":
            return self.unauthenticated(f"/{endpoint}", metadata, peer_certificate) or self.error_response(
                NOT_FOUND, f"/{endpoint} is off (auth.expose.{key})"
            )
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

    def unauthenticated(
        self,
        target: str,
        metadata: Mapping[str, str],
        peer_certificate: dict[str, Any] | None = None,
        codec: Codec | None = None,
    ) -> Response | None:
        """Return the 401 that comes before a 404, or None when the caller may learn what is not here.

        With authentication configured, whatever would answer 404 (no such method, component,
        route, or an endpoint that is off) answers 401 to a caller that is not authenticated,
        in the words a hosted method's refusal uses (``<target> needs an authenticated
        caller``, or why its credential is not valid): an anonymous caller cannot list what
        exists. Listeners call it before answering 404 for a route of their own.

        Args:
            target: what was asked for, as the 401 names it (``component/service/method``, a path).
            metadata: what the caller sent (the ``authorization`` key for a bearer token).
            peer_certificate: the caller's TLS client certificate, or None.
            codec: the codec of the answer (JSON when None).

        Returns:
            The 401 answer; None when no authentication is configured or the caller is
            authenticated (it gets the 404).
        """
        guard = self.guard
        if guard is None:
            return None
        try:
            if guard.caller(CallContext(dict(metadata), None, None, "", peer_certificate)) is not None:
                return None
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, codec, exc.error_type)
        return self.error_response(UNAUTHENTICATED, f"{target} needs an authenticated caller", codec)

    def _no_route(self, request: ServerRequest, metadata: Metadata, codec: Codec | None) -> Response:
        refused = self.unauthenticated(request.path, metadata, request.peer_certificate, codec)
        return refused or self.error_response(NOT_FOUND, f"no service method at {request.path}", codec)

    def has_route(self, path: str) -> bool:
        """Return True when ``component/service/method`` is a hosted method."""
        return path in self._routes

    def health(
        self,
        component: str,
        metadata: Mapping[str, str] = NO_METADATA,
        peer_certificate: dict[str, Any] | None = None,
    ) -> Response | None:
        """Return the health of a hosted component (200, or 503 when ERROR), or None.

        The whole document (the component's lifecycle status, each check with its details)
        goes to a caller that ``auth.expose.health_details`` admits (``authenticated`` by
        default: a caller an authenticator accepts; ``open``: everyone; ``off``: nobody). Any
        other caller reads the overall status only, ``{"component": ..., "status": ...}``,
        with the same HTTP status, so that a load balancer's probe works and no exception text
        (paths, hosts, passwords) reaches an anonymous caller. A credential that is not valid
        answers 401. Whenever the health found differs from the last one logged, it is logged
        (WARNING with each failing check's details, INFO when it is OK again), so the details
        are never lost; credentials in URLs are redacted in the log and in the document.

        A component whose health cannot be computed (a failing check class, a broken
        ``get_health``) is reported as ERROR with the reason, never as an exception. An
        ``async def get_health`` (and async health checks) run on the dispatcher's loop.

        Args:
            component: the component's name.
            metadata: what the caller sent (the ``authorization`` key for a bearer token).
            peer_certificate: the caller's TLS client certificate, or None.
        """
        descriptor = self._by_component.get(component)
        if descriptor is None:
            return None
        detailed = self._health_detailed(metadata, peer_certificate)
        if isinstance(detailed, Response):
            return detailed
        try:
            instance = self._component_instance(descriptor)
            status_name = instance.get_status().value
            awaitable = _async_health(instance)
            health = self._blocking(awaitable()) if awaitable is not None else instance.get_health()
        except Exception as exc:  # a broken health is a finding, not a crash
            status_name, health = "unknown", _broken_health(exc)
        return self._health_answer(component, status_name, health, detailed)

    async def health_async(
        self,
        component: str,
        metadata: Mapping[str, str] = NO_METADATA,
        peer_certificate: dict[str, Any] | None = None,
    ) -> Response | None:
        """:meth:`health` from an event loop: async health on it, a sync ``get_health`` in the worker pool."""
        descriptor = self._by_component.get(component)
        if descriptor is None:
            return None
        detailed = self._health_detailed(metadata, peer_certificate)
        if isinstance(detailed, Response):
            return detailed
        try:
            instance = self._component_instance(descriptor)
            status_name = instance.get_status().value
            awaitable = _async_health(instance)
            if awaitable is not None:
                health = await awaitable()
            else:
                health = await in_thread(self._workers_pool(), instance.get_health)
        except Exception as exc:  # a broken health is a finding, not a crash
            status_name, health = "unknown", _broken_health(exc)
        return self._health_answer(component, status_name, health, detailed)

    def _health_detailed(
        self, metadata: Mapping[str, str], peer_certificate: dict[str, Any] | None
    ) -> bool | Response:
        """Whether a caller reads the health's details; the 401 answer for a credential that is not valid."""
        if self.expose["health_details"] != "authenticated" or self.guard is None:
            return bool(self.expose["health_details"] == "open")
        try:
            caller = self.guard.caller(CallContext(dict(metadata), None, None, "", peer_certificate))
        except CallRejected as exc:
            return self.error_response(exc.status, exc.message, None, exc.error_type)
        return caller is not None

    def _health_answer(self, component: str, status_name: str, health: Health, detailed: bool) -> Response:
        """The health answer: the whole document, or the overall status only; logged when it changed."""
        from ..declarations._health import HealthStatus

        self._log_health(component, health)
        status = HEALTH_FAILING if health.status >= HealthStatus.ERROR else HEALTH_OK
        if not detailed:
            document: dict[str, Any] = {"component": component, "status": str(health.status)}
            return Response(status, JSON_CODEC.encode(document), JSON_CODEC.content_type)
        document = {"component": component, "component_status": status_name, **health.to_dict()}
        for check in document["checks"]:
            if "details" in check:
                check["details"] = redact_credentials(check["details"])
        return Response(status, JSON_CODEC.encode(document), JSON_CODEC.content_type)

    def _log_health(self, component: str, health: Any) -> None:
        """Log a component's health when it differs from the one logged last (details included)."""
        from ..declarations._health import HealthStatus

        found = (health.status, health.results)
        before = self._health_logged.get(component)
        if found == before:
            return
        self._health_logged[component] = found
        failing = [result for result in health.results if result.status != HealthStatus.OK]
        if not failing:
            if before is not None:
                logger.info("%s is healthy again", component)
            return
        logger.warning(
            "%s health is %s: %s",
            component,
            health.status,
            redact_credentials("; ".join(f"{r.name}: {r.details or r.status}" for r in failing)),
        )

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

    def close(self) -> None:
        """Stop the dispatcher's event loop (its calls are cancelled) and its worker pool.

        The server calls it last, after draining; both start again if a call comes after all.
        """
        self._loop.close()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


def _received(metadata: Mapping[str, str]) -> tuple[Metadata, float | None]:
    """Split what a caller sent into the call's metadata and the seconds its deadline left.

    The seconds are None without a deadline.

    Raises:
        CallRejected: 400, an ``sw-timeout-ms`` that is not 1 to 10 ASCII digits (a deadline
            the caller meant is never dropped silently).
    """
    if type(metadata) is Metadata and TIMEOUT_KEY not in metadata:
        return metadata, None
    received = Metadata(metadata)  # one copy, read-only from here on
    value = dict.pop(received, TIMEOUT_KEY, None)  # our own copy: dict's pop, before anyone reads it
    if value is None:
        return received, None
    milliseconds = timeout_milliseconds(value)
    if milliseconds is None:
        raise CallRejected(
            BAD_REQUEST,
            f"{TIMEOUT_KEY} is {value[:40]!r}: it must be the milliseconds left, 1 to 10 ASCII digits",
        )
    return received, milliseconds / 1000


def _decoded(method_codec: MethodCodec, body: bytes) -> tuple[list[Any], dict[str, Any]]:
    """A call's arguments from its body: a body that does not decode is a 400."""
    try:
        return method_codec.decode_call(body)
    except CodecError as exc:
        raise CallRejected(BAD_REQUEST, str(exc), kind=exc.kind.value) from None


_STOPPED = (DEADLINE_EXCEEDED, "the deadline passed while the call ran; it was cancelled")
"""The CallRejected of an async implementation cancelled at its deadline."""


def _rejected(exc: CallRejected, url: str, path: str) -> Exception:
    """What an in-process caller gets for a call the server side refused (a protocol status)."""
    body = encode_error(JSON_CODEC, exc.error_type, exc.message, kind=exc.kind)
    return error_for_status(JSON_CODEC, exc.status, body, url, path)


def _async_health(instance: Any) -> Callable[[], Coroutine[Any, Any, Health]] | None:
    """What to await for a component's health, or None when it is computed synchronously.

    An ``async def get_health``, or the checks of an :class:`~container.AbstractComponent`
    whose ``get_health`` is its own when some check is an ``async def``.
    """
    from ..declarations._component import AbstractComponent
    from ..declarations._health import HealthCheckManager

    get_health = instance.get_health
    if inspect.iscoroutinefunction(get_health):
        return get_health  # type: ignore[no-any-return]
    if isinstance(instance, AbstractComponent) and type(instance).get_health is AbstractComponent.get_health:
        if instance.health_checks is None:
            instance.health_checks = HealthCheckManager.for_component(type(instance))
        if instance.health_checks.has_async:
            return instance.health_checks.check_async
    return None


def _broken_health(exc: Exception) -> Health:
    from ..declarations._health import Health, HealthResult, HealthStatus

    return Health(
        HealthStatus.ERROR, (HealthResult("health", HealthStatus.ERROR, f"{type(exc).__name__}: {exc}"),)
    )


def _terminal(function: Callable[..., Any]) -> CallNext:
    """The end of a server chain: the implementation, with the call's context as the served one.

    For an ``async def`` implementation it returns the coroutine, which the async chain awaits.
    """

    def run(call: Any) -> Any:
        serving = _serving_get()
        if serving is not None:
            serving.context = call.context  # an interceptor may have passed a new one (an identity)
        args, kwargs = call.arguments.get()
        return function(*args, **kwargs)

    return run


def _public_message(exc: Exception) -> str:
    """What a relayed failure says: servicewire's own message, or the dependency's."""
    if isinstance(exc, RemoteServiceException):
        return exc.remote_message
    return str(exc)
