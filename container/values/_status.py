"""The statuses of answers: HTTP's numbers, spoken by every channel.

A server answers each call with a :class:`Status` and a body: ``OK`` with the result, any other
status with the error envelope. The status says what kind of failure it was, whatever the
channel (an HTTP status line, a frame field, an in-process exception); which exception a caller
receives for each status is decided beside the exceptions (:mod:`container.values._errors`).
"""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """The status of an answer (HTTP's numbers; an ``int``, so ``Status.OK == 200``).

    Attributes:
        OK: the call ran; the body holds the result.
        BAD_REQUEST: the body did not decode, or the arguments do not fit the signature.
        UNAUTHENTICATED: no valid credential, where the method needs one (nothing ran).
        PERMISSION_DENIED: the caller is known and may not call the method (nothing ran).
        NOT_FOUND: no such component, service or method.
        METHOD_NOT_ALLOWED: the request used a method the listener does not serve.
        PAYLOAD_TOO_LARGE: the body is over the server's limit.
        UNSUPPORTED_MEDIA_TYPE: no codec for the request's content type.
        INTERNAL_ERROR: the implementation raised.
        UNAVAILABLE: the server did not run the call (shutting down, overloaded).
        DEADLINE_EXCEEDED: the deadline passed before the call ran.
    """

    OK = 200
    BAD_REQUEST = 400
    UNAUTHENTICATED = 401
    PERMISSION_DENIED = 403
    NOT_FOUND = 404
    METHOD_NOT_ALLOWED = 405
    PAYLOAD_TOO_LARGE = 413
    UNSUPPORTED_MEDIA_TYPE = 415
    INTERNAL_ERROR = 500
    UNAVAILABLE = 503
    DEADLINE_EXCEEDED = 504

    def __str__(self) -> str:
        # The number, as on Python 3.11+ (3.10's IntEnum would print "Status.OK" in logs).
        return str(self.value)

    @property
    def error_type(self) -> str:
        """The error type name an envelope of this status carries (``"BadRequest"``, ...).

        ``INTERNAL_ERROR`` names the exception instead; its generic name is ``"Error"``.
        """
        return ERROR_TYPES.get(self, "Error")


ERROR_TYPES: dict[int, str] = {
    Status.BAD_REQUEST: "BadRequest",
    Status.UNAUTHENTICATED: "Unauthenticated",
    Status.PERMISSION_DENIED: "PermissionDenied",
    Status.NOT_FOUND: "NotFound",
    Status.METHOD_NOT_ALLOWED: "MethodNotAllowed",
    Status.PAYLOAD_TOO_LARGE: "PayloadTooLarge",
    Status.UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
    Status.UNAVAILABLE: "Unavailable",
    Status.DEADLINE_EXCEEDED: "DeadlineExceeded",
}
"""The error type name of each protocol status (500 names the exception instead)."""


def error_type_of(status: int) -> str:
    """Return the error type name of any status, ``"Error"`` for those without one (431, 500)."""
    return ERROR_TYPES.get(status, "Error")
