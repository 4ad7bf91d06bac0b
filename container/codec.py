"""The wire codec, public: a call's arguments and result to bytes and back, by type hints.

Pure functions and small classes with no I/O, used by the pipeline, every listener and
third-party channels, and by tests without a network. The work is done in
:mod:`container.wire`; this module is its public surface. See :mod:`container.wire._codec`
for the body shapes and the value types carried.
"""

from __future__ import annotations

from .wire._codec import (
    BAD_REQUEST,
    CODECS,
    DEADLINE_EXCEEDED,
    ERROR_TYPES,
    INTERNAL_ERROR,
    JSON,
    JSON_CODEC,
    METHOD_NOT_ALLOWED,
    MSGPACK,
    MSGPACK_CODEC,
    NOT_FOUND,
    OK,
    PAYLOAD_TOO_LARGE,
    PERMISSION_DENIED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
    Codec,
    CodecError,
    MethodCodec,
    bad_answer,
    codec_for,
    decode_error,
    encode_error,
    encode_exception,
    error_detail,
    error_for_status,
    exception_type_name,
)

__all__ = [
    "BAD_REQUEST",
    "CODECS",
    "DEADLINE_EXCEEDED",
    "ERROR_TYPES",
    "INTERNAL_ERROR",
    "JSON",
    "JSON_CODEC",
    "METHOD_NOT_ALLOWED",
    "MSGPACK",
    "MSGPACK_CODEC",
    "NOT_FOUND",
    "OK",
    "PAYLOAD_TOO_LARGE",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "UNSUPPORTED_MEDIA_TYPE",
    "Codec",
    "CodecError",
    "MethodCodec",
    "bad_answer",
    "codec_for",
    "decode_error",
    "encode_error",
    "encode_exception",
    "error_detail",
    "error_for_status",
    "exception_type_name",
]
