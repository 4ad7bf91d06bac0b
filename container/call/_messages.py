"""The bytes of one call and of its answer: what a transport sends and a listener answers.

A :class:`Request` is what the pipeline hands a transport (the encoded call, its metadata and
deadline); a :class:`Response` is what comes back, and what the dispatcher answers a listener
with. A :class:`ServerRequest` is what a listener hands the dispatcher: one request as it
arrived, with a :class:`Cancellation` when the listener can tell that its caller went away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..values._errors import ServiceTimeoutException
from ._context import NO_METADATA, timeout_metadata


class Request(msgspec.Struct, gc=False):
    """The bytes of one call and what travels with them.

    (A msgspec Struct, made once per call: faster to create than a class. Untracked by the
    garbage collector: it holds bytes, strings, numbers and the metadata dict, nothing that
    could refer back to it.)

    Attributes:
        path: ``component/service/method``.
        body: the encoded call.
        content_type: the codec's content type, for example ``application/msgpack``.
        metadata: str->str pairs to send (HTTP headers, a frame field, ...).
        deadline: when the call must be over (:func:`time.monotonic`), or None.
        connect_timeout: seconds one connection attempt may take (never past the deadline).
        timeout: the length of the deadline when the call started, seconds (for messages).
    """

    path: str
    body: bytes
    content_type: str
    metadata: Mapping[str, str]
    deadline: float | None
    connect_timeout: float
    timeout: float = 0.0

    def time_left(self, url: str) -> float | None:
        """Return the seconds left before the deadline (None: no deadline).

        Call it before each blocking step and use it as that step's timeout.

        Raises:
            ServiceTimeoutException: the deadline has passed (``limit="deadline"``).
        """
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ServiceTimeoutException(url, "deadline", self.timeout)
        return left

    def connect_time(self, url: str) -> float:
        """Return the timeout of a connection attempt now: the connect limit or the time left."""
        left = self.time_left(url)
        return self.connect_timeout if left is None else min(self.connect_timeout, left)

    def wire_metadata(self) -> dict[str, str]:
        """Return the metadata to write: the caller's pairs plus ``sw-timeout-ms`` (time left)."""
        timeout = timeout_metadata(self.deadline)
        if timeout is None:
            return dict(self.metadata)
        return {**self.metadata, "sw-timeout-ms": timeout}

    def __repr__(self) -> str:
        return f"<Request {self.path} {len(self.body)} bytes {self.content_type}>"


class Response(msgspec.Struct, gc=False):
    """The answer to one call.

    A transport returns the metadata it read with the answer (HTTP headers that are not the
    transport's own, a frame field); a listener sends the dispatcher's back the same way.

    Attributes:
        status: 200 for a result; otherwise the error's status (400, 401, 403, 404, 413, 415,
            500, 503, 504), the body holding the error envelope.
        body: the encoded result or error.
        content_type: the codec's content type.
        metadata: str->str pairs the server sent back with the answer (empty when none): what
            the implementation or a server interceptor set with
            :func:`~container.set_response_metadata`.
    """

    status: int
    body: bytes
    content_type: str
    metadata: Mapping[str, str] = NO_METADATA

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes {self.content_type}>"


class Cancellation:
    """How a listener tells the dispatcher that the caller of a request went away (thread-safe).

    A listener that notices it (the caller's connection closed while its call runs) makes one
    per request, passes it as ``ServerRequest(..., cancellation=...)``, and calls
    :meth:`cancel`; the dispatcher then cancels the call's coroutine (an ``async def``
    implementation sees :class:`asyncio.CancelledError` at its next await). A sync
    implementation is not interrupted: a thread cannot be stopped from outside. An asyncio
    listener calling :meth:`Dispatcher.handle_async` cancels its task instead.

    Attributes:
        cancelled: True once :meth:`cancel` was called.
    """

    __slots__ = ("_callbacks", "_lock", "cancelled")

    def __init__(self) -> None:
        self.cancelled = False
        self._callbacks: list[Callable[[], Any]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Say that the caller went away: the callbacks run now, once (later calls do nothing)."""
        with self._lock:
            if self.cancelled:
                return
            self.cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` when :meth:`cancel` is called (at once when it was called already)."""
        with self._lock:
            if not self.cancelled:
                self._callbacks.append(callback)
                return
        callback()

    def __repr__(self) -> str:
        return f"<Cancellation {'cancelled' if self.cancelled else 'pending'}>"


class ServerRequest(msgspec.Struct, gc=False):
    """One request as a listener received it: what it hands :meth:`Dispatcher.handle`.

    (Untracked by the garbage collector: it holds bytes, strings, plain mappings and a
    :class:`Cancellation`, whose callbacks never refer back to the request.)

    Attributes:
        path: ``component/service/method``.
        body: the encoded call.
        content_type: the request's content type (selects the codec; 415 if unknown).
        metadata: what the caller sent besides the body (lowercase keys), including
            ``sw-timeout-ms`` when the call has a deadline.
        peer: the caller's address as the listener saw it, for logs ("" when unknown).
        peer_certificate: the caller's verified TLS client certificate, as
            :meth:`ssl.SSLSocket.getpeercert` returns it (mTLS), or None.
        cancellation: what the listener cancels when the caller goes away while the call
            runs, or None when it cannot tell.
    """

    path: str
    body: bytes
    content_type: str
    metadata: Mapping[str, str] = NO_METADATA
    peer: str = ""
    peer_certificate: dict[str, Any] | None = None
    cancellation: Cancellation | None = None

    def __repr__(self) -> str:
        return f"<ServerRequest {self.path} {len(self.body)} bytes {self.content_type}>"
