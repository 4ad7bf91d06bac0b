"""The wire codec, public: a call's arguments and result to bytes and back, by type hints.

Pure functions and small classes with no I/O, used by the pipeline, every listener and
third-party channels, and by tests without a network. The work is done in
:mod:`container.wire`; this module is its public surface. See :mod:`container.wire._codec`
for the body shapes and the value types carried.

The statuses of answers are :class:`container.plugin.Status`; the names this module exported
for them (``OK``, ``BAD_REQUEST``, ..., ``ERROR_TYPES``) still resolve, silently, to its members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .values._public import moved_names, publish
from .wire._codec import (
    CODECS,
    JSON,
    JSON_CODEC,
    MSGPACK,
    MSGPACK_CODEC,
    Codec,
    CodecError,
    MethodCodec,
    MethodSignature,
    bad_answer,
    codec_for,
    decode_error,
    encode_error,
    encode_exception,
    error_detail,
    error_for_status,
    exception_type_name,
)
from .wire._failures import CodecErrorKind

__all__ = [
    "CODECS",
    "JSON",
    "JSON_CODEC",
    "MSGPACK",
    "MSGPACK_CODEC",
    "Codec",
    "CodecError",
    "CodecErrorKind",
    "MethodCodec",
    "MethodSignature",
    "bad_answer",
    "codec_for",
    "decode_error",
    "encode_error",
    "encode_exception",
    "error_detail",
    "error_for_status",
    "exception_type_name",
]

publish(globals(), __all__, __name__)

# The statuses this module exported before Status existed: its members now.
if not TYPE_CHECKING:  # type checkers see only the names of __all__
    __getattr__ = moved_names(
        __name__,
        {
            **{
                name: f"container.values._status:Status.{name}"
                for name in (
                    "OK",
                    "BAD_REQUEST",
                    "UNAUTHENTICATED",
                    "PERMISSION_DENIED",
                    "NOT_FOUND",
                    "METHOD_NOT_ALLOWED",
                    "PAYLOAD_TOO_LARGE",
                    "UNSUPPORTED_MEDIA_TYPE",
                    "INTERNAL_ERROR",
                    "UNAVAILABLE",
                    "DEADLINE_EXCEEDED",
                )
            },
            "ERROR_TYPES": "container.values._status:ERROR_TYPES",
        },
    )
