"""The bytes of one call and of its answer: what a transport sends and a listener answers.

A :class:`Request` is what the pipeline hands a transport (the encoded call, its metadata and
deadline); a :class:`Response` is what comes back, and what the dispatcher answers a listener
with.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from ..values._errors import ServiceTimeoutException
from ._context import timeout_metadata


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

    Attributes:
        status: 200 for a result; otherwise the error's status (400, 401, 403, 404, 413, 415,
            500, 503, 504), the body holding the error envelope.
        body: the encoded result or error.
        content_type: the codec's content type.
        metadata: str->str pairs the server sent back (may be empty).
    """

    status: int
    body: bytes
    content_type: str
    metadata: Mapping[str, str] = msgspec.field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes {self.content_type}>"
