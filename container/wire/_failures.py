"""Why a body did not decode: :class:`CodecError`, its kinds, and the diagnosis behind them.

msgspec decodes a body in one pass and says *that* it is bad, in words (and, as 0.23 showed,
exception types) that change between its versions. The codec passes none of that through as
its message: when a decode fails, and only then, it examines the body itself (the standard
library's ``json`` with hooks for numbers, a small MessagePack walker) and says in its own words
what is wrong, under a kind from a small fixed set. The happy path never comes here.

What msgspec says is kept only as a parenthesised detail after servicewire's words, and the one
thing taken from its text, the path of a value of the wrong type, is best effort: the kind and
the opening words never depend on it.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable
from typing import Any

import msgspec


class CodecErrorKind(str, enum.Enum):
    """What kind of failure a :class:`CodecError` reports (stable names, sent on the wire as ``kind``).

    Attributes:
        MALFORMED: the bytes are not JSON or MessagePack at all (a syntax error, a reserved
            byte, the body ends inside a value, bytes after the value, ``NaN``/``Infinity`` in
            JSON).
        INVALID_UTF8: a string (for JSON: the body) is not valid UTF-8, or a JSON string
            escapes a lone surrogate.
        TOO_DEEP: the body nests arrays or maps deeper than the decoder follows.
        NUMBER_OUT_OF_RANGE: a number no value can hold (``1e400``; an integer of more
            digits than Python converts).
        BAD_SHAPE: well-formed, but not the envelope expected: a call is
            ``{"args": [...], "kwargs": {...}}``, a result ``{"result": ...}``.
        WRONG_TYPE: a value does not fit its declared type (the message names the argument
            and, when known, the field path).
        SIGNATURE: the arguments do not fit the method's signature (too many, a missing one,
            an unknown keyword, one given twice).
    """

    MALFORMED = "malformed"
    INVALID_UTF8 = "invalid-utf8"
    TOO_DEEP = "too-deep"
    NUMBER_OUT_OF_RANGE = "number-out-of-range"
    BAD_SHAPE = "bad-shape"
    WRONG_TYPE = "wrong-type"
    SIGNATURE = "signature"

    def __str__(self) -> str:
        return self.value


class CodecError(ValueError):
    """A body could not be decoded, or decoded to values of the wrong type or arity.

    ``str(error)`` is servicewire's message: what is wrong and where (the argument, the field
    path, the byte or line), never a dependency's wording alone.

    Args:
        message: what is wrong, for the caller.
        kind: which kind of failure (default :attr:`CodecErrorKind.MALFORMED`).

    Attributes:
        message: as given.
        kind: a :class:`CodecErrorKind`.
    """

    def __init__(self, message: str, kind: CodecErrorKind = CodecErrorKind.MALFORMED) -> None:
        super().__init__(message)
        self.message = message
        self.kind = CodecErrorKind(kind)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message, self.kind)


class _Problem(Exception):
    """What the diagnosis found: a kind, the words that say it, and where (``byte 12``)."""

    def __init__(self, kind: CodecErrorKind, words: str, where: str = "") -> None:
        super().__init__(words)
        self.kind = kind
        self.words = words
        self.where = where

    def said(self, subject: str, of: str = "") -> CodecError:
        """The CodecError for this problem in ``subject``; ``of`` qualifies the place."""
        where = f" at {self.where}{of}" if self.where else ""
        return CodecError(f"{subject}: {self.words}{where}", self.kind)


# Deeper than this, a well-formed body the decoder refused for no reason found is "too deep":
# msgspec's limit follows the interpreter's recursion limit (about 1000 frames by default).
_DEEP = 256

# The MessagePack walker stops after this many values: a hostile 8 MiB body of one-byte values
# must not cost seconds. What it has not reached is then reported as malformed without a place.
_WALK_LIMIT = 2_000_000

_FORMAT_NAMES = {"json": "JSON", "msgpack": "MessagePack"}


def explain_failure(
    fmt: str, data: bytes, exc: BaseException, subject: str, root: str, of: str = ""
) -> CodecError:
    """Return the CodecError for a value that did not decode (any type, no envelope).

    Args:
        fmt: the codec's short name, ``"json"`` or ``"msgpack"``.
        data: the bytes that did not decode.
        exc: what the decoder raised (used for its type, and as a detail).
        subject: what the bytes are, opening the message (``"argument 'data'"``).
        root: the name that replaces ``$`` in a field path (``"data"``).
        of: what a byte or line position counts from, when not the body (``" of the argument"``).
    """
    try:
        _, depth = _parse(fmt, data)
    except _Problem as problem:
        return problem.said(subject, of)
    return _undiagnosed(fmt, exc, subject, root, depth)


def explain_call_failure(fmt: str, content_type: str, body: bytes, exc: BaseException) -> CodecError:
    """Return the CodecError for a call body whose envelope did not decode."""
    subject = f"{content_type} body"
    try:
        value, depth = _parse(fmt, body)
    except _Problem as problem:
        return problem.said(subject)
    shape = None if value is _UNPARSED else _call_shape_problem(value)
    if shape is not None:
        return CodecError(f"{subject} is not a call: {shape}", CodecErrorKind.BAD_SHAPE)
    return _undiagnosed(fmt, exc, subject, "body", depth)


def explain_result_failure(fmt: str, path: str, body: bytes, exc: BaseException) -> CodecError:
    """Return the CodecError for a result body that did not decode into the return type."""
    subject = f"result of {path}"
    try:
        value, depth = _parse(fmt, body)
    except _Problem as problem:
        return problem.said(subject)
    if value is not _UNPARSED and (not isinstance(value, dict) or "result" not in value):
        return CodecError(
            f"{subject}: the answer is not a result: expected a map with the key 'result'",
            CodecErrorKind.BAD_SHAPE,
        )
    return _undiagnosed(fmt, exc, subject, "result", depth, strip=".result")


def signature_error(method_name: str, words: str) -> CodecError:
    """Return the CodecError for arguments that do not fit a method's signature."""
    return CodecError(f"{method_name}() {words}", CodecErrorKind.SIGNATURE)


def _undiagnosed(
    fmt: str, exc: BaseException, subject: str, root: str, depth: int, strip: str = ""
) -> CodecError:
    """The body is well-formed as far as we can tell: classify by what the decoder raised."""
    if isinstance(exc, RecursionError):
        return CodecError(f"{subject}: {_TOO_DEEP_WORDS}", CodecErrorKind.TOO_DEEP)
    if isinstance(exc, msgspec.ValidationError):
        detail, path = _validation_parts(str(exc), root, strip)
        where = f" at `{path}`" if path else ""
        suffix = f" ({detail})" if detail else ""
        return CodecError(
            f"{subject}: value does not fit the declared type{where}{suffix}", CodecErrorKind.WRONG_TYPE
        )
    if depth > _DEEP:
        return CodecError(f"{subject}: {_TOO_DEEP_WORDS}", CodecErrorKind.TOO_DEEP)
    detail = str(exc).strip()
    suffix = f" ({detail})" if detail else ""
    return CodecError(
        f"{subject}: the {_FORMAT_NAMES.get(fmt, fmt)} decoder refused it{suffix}", CodecErrorKind.MALFORMED
    )


_TOO_DEEP_WORDS = "nested deeper than the decoder follows"
_ENDS_INSIDE = "it ends in the middle of a value"

# msgspec ends a validation message with " - at `$.field[0].name`" when the value is not the root.
_AT_PATH = re.compile(r"^(?P<detail>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _validation_parts(text: str, root: str, strip: str = "") -> tuple[str, str]:
    """Split a validation message into (detail, path from ``root``); best effort on its wording."""
    found = _AT_PATH.match(text)
    if found is None:  # pragma: no cover - the pattern matches any text
        return text, root
    path = found.group("path") or ""
    if strip and (path == strip or path.startswith((strip + ".", strip + "["))):
        path = path[len(strip) :]
    return found.group("detail").strip(), root + path


# what a call envelope must look like


def _call_shape_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "expected a map with the keys 'args' and 'kwargs'"
    for key in value:
        if key not in ("args", "kwargs"):
            return f"unknown key {key!r} (a call has only 'args' and 'kwargs')"
    if "args" in value and not isinstance(value["args"], list):
        return "'args' must be an array"
    kwargs = value.get("kwargs", {})
    if not isinstance(kwargs, dict) or not all(isinstance(name, str) for name in kwargs):
        return "'kwargs' must map argument names to values"
    return None


# parsing on the failure path


_UNPARSED: Any = object()  # the body has no problem we can name, and no value either


def _parse(fmt: str, data: bytes) -> tuple[Any, int]:
    """Parse ``data`` untyped; return (value or _UNPARSED, nesting depth) or raise the _Problem found."""
    if fmt == "json":
        return _parse_json(data)
    if fmt == "msgpack":
        return _parse_msgpack(data)
    return _UNPARSED, 0  # a format we cannot examine: classified by what the decoder raised


def _parse_json(data: bytes) -> tuple[Any, int]:
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Problem(CodecErrorKind.INVALID_UTF8, "invalid UTF-8", f"byte {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        if not text[exc.pos :].strip():
            raise _Problem(CodecErrorKind.MALFORMED, f"malformed JSON: {_ENDS_INSIDE}") from None
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _Problem(CodecErrorKind.MALFORMED, "malformed JSON", where) from None
    except RecursionError:
        raise _Problem(CodecErrorKind.TOO_DEEP, _TOO_DEEP_WORDS) from None
    return value, _depth_and_text_check(value)


def _refuse_constant(name: str) -> Any:
    raise _Problem(CodecErrorKind.MALFORMED, f"malformed JSON: {name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Problem(CodecErrorKind.NUMBER_OUT_OF_RANGE, f"number out of range: {_clip(text)}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than the interpreter converts (sys.get_int_max_str_digits)
        raise _Problem(
            CodecErrorKind.NUMBER_OUT_OF_RANGE, f"number out of range: an integer of {len(text)} digits"
        ) from None


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _depth_and_text_check(value: Any) -> int:
    """Return the nesting depth of parsed JSON; refuse strings that hold a lone surrogate."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
    return deepest


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Problem(
            CodecErrorKind.INVALID_UTF8,
            f"a string escapes a lone surrogate ({text[exc.start : exc.end]!r}), which is not text",
        ) from None


def _parse_msgpack(data: bytes) -> tuple[Any, int]:
    try:
        value = msgspec.msgpack.decode(data)
    except Exception:
        return _UNPARSED, _walk_msgpack(bytes(data))
    return value, _depth_of(value)


def _depth_of(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item.values())
    return deepest


# MessagePack's formats (https://github.com/msgpack/msgpack/blob/master/spec.md): for each first
# byte from 0xc0 on that is not a fixed-size scalar, how many bytes hold its length.
_SCALAR_SIZES = {
    0xC0: 0, 0xC2: 0, 0xC3: 0,  # nil, false, true
    0xCA: 4, 0xCB: 8,  # float 32, 64
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,  # uint 8..64
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,  # int 8..64
}  # fmt: skip
_BIN_LENGTH = {0xC4: 1, 0xC5: 2, 0xC6: 4}
_STR_LENGTH = {0xD9: 1, 0xDA: 2, 0xDB: 4}
_EXT_LENGTH = {0xC7: 1, 0xC8: 2, 0xC9: 4}
_FIXEXT_SIZE = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
_ARRAY_LENGTH = {0xDC: 2, 0xDD: 4}
_MAP_LENGTH = {0xDE: 2, 0xDF: 4}
_TIMESTAMP = -1
_LATEST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_EARLIEST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z


def _walk_msgpack(data: bytes) -> int:
    """Walk MessagePack bytes without building values; raise the first _Problem, else return the depth.

    Iterative (a stack of counts), so that no nesting can exhaust the interpreter's stack.
    """
    size = len(data)
    pos = 0
    expected = [1]  # values still expected at each open level; the bottom one is the document
    deepest = 0
    walked = 0

    def take(count: int, at: int) -> int:
        end = at + count
        if end > size:
            raise _Problem(CodecErrorKind.MALFORMED, f"malformed MessagePack: {_ENDS_INSIDE}")
        return end

    while expected:
        if expected[-1] == 0:
            expected.pop()
            continue
        expected[-1] -= 1
        walked += 1
        if walked > _WALK_LIMIT:
            raise _Problem(CodecErrorKind.MALFORMED, "malformed MessagePack (too large to say where)")
        start = pos
        pos = take(1, pos)
        first = data[start]
        if first <= 0x7F or first >= 0xE0:  # positive and negative fixint
            continue
        if first <= 0x9F:  # fixmap (0x80-0x8f: pairs), fixarray (0x90-0x9f)
            count = first & 0x0F
            if first <= 0x8F:
                count *= 2
            expected.append(count)
            deepest = max(deepest, len(expected) - 1)
            continue
        if first <= 0xBF:  # fixstr
            pos = _check_str(data, pos, first & 0x1F, take)
            continue
        if first == 0xC1:
            raise _Problem(
                CodecErrorKind.MALFORMED, "malformed MessagePack: the reserved byte 0xc1", f"byte {start}"
            )
        if first in _SCALAR_SIZES:
            pos = take(_SCALAR_SIZES[first], pos)
            continue
        if first in _STR_LENGTH:
            length, pos = _read_length(data, pos, _STR_LENGTH[first], take)
            pos = _check_str(data, pos, length, take)
            continue
        if first in _BIN_LENGTH:
            length, pos = _read_length(data, pos, _BIN_LENGTH[first], take)
            pos = take(length, pos)
            continue
        if first in _ARRAY_LENGTH or first in _MAP_LENGTH:
            width = _ARRAY_LENGTH.get(first) or _MAP_LENGTH[first]
            count, pos = _read_length(data, pos, width, take)
            expected.append(count * 2 if first in _MAP_LENGTH else count)
            deepest = max(deepest, len(expected) - 1)
            continue
        if first in _FIXEXT_SIZE or first in _EXT_LENGTH:
            if first in _FIXEXT_SIZE:
                length = _FIXEXT_SIZE[first]
            else:
                length, pos = _read_length(data, pos, _EXT_LENGTH[first], take)
            code_at = pos
            pos = take(1, pos)
            end = take(length, pos)
            if int.from_bytes(data[code_at : code_at + 1], "big", signed=True) == _TIMESTAMP:
                _check_timestamp(data[pos:end], start)
            pos = end
            continue
        raise _Problem(  # pragma: no cover - every byte value is handled above
            CodecErrorKind.MALFORMED, f"malformed MessagePack: unknown byte 0x{first:02x}", f"byte {start}"
        )
    if pos < size:
        raise _Problem(
            CodecErrorKind.MALFORMED, f"malformed MessagePack: {size - pos} byte(s) after the value"
        )
    return deepest


def _read_length(data: bytes, pos: int, width: int, take: Callable[[int, int], int]) -> tuple[int, int]:
    end = take(width, pos)
    return int.from_bytes(data[pos:end], "big"), end


def _check_str(data: bytes, pos: int, length: int, take: Callable[[int, int], int]) -> int:
    end = take(length, pos)
    try:
        data[pos:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Problem(
            CodecErrorKind.INVALID_UTF8, "invalid UTF-8 in a string", f"byte {pos + exc.start}"
        ) from None
    return end


def _check_timestamp(payload: bytes, start: int) -> None:
    """The timestamp extension (-1): 4, 8 or 12 bytes, nanoseconds below 10**9, a datetime's range."""
    if len(payload) == 4:
        return
    if len(payload) == 8:
        packed = int.from_bytes(payload, "big")
        nanoseconds, seconds = packed >> 34, packed & (2**34 - 1)
    elif len(payload) == 12:
        nanoseconds = int.from_bytes(payload[:4], "big")
        seconds = int.from_bytes(payload[4:], "big", signed=True)
    else:
        raise _Problem(
            CodecErrorKind.MALFORMED,
            f"malformed MessagePack: a timestamp of {len(payload)} bytes (4, 8 or 12)",
            f"byte {start}",
        )
    if nanoseconds >= 1_000_000_000:
        raise _Problem(
            CodecErrorKind.MALFORMED,
            "malformed MessagePack: a timestamp with more than 999999999 nanoseconds",
            f"byte {start}",
        )
    if not _EARLIEST_SECOND <= seconds <= _LATEST_SECOND:
        raise _Problem(
            CodecErrorKind.NUMBER_OUT_OF_RANGE, "timestamp out of a datetime's range", f"byte {start}"
        )


# encoding failures


def encode_problem(fmt: str, value: Any, exc: BaseException, enc_hook: Any) -> str:
    """Say in servicewire's words why ``value`` could not be encoded (the failure path only).

    Examines the value itself: a lone surrogate in a string, an integer MessagePack cannot
    hold, nesting too deep; else the type the codec does not know.
    """
    try:
        plain = msgspec.to_builtins(value, enc_hook=enc_hook)
    except NotImplementedError as hook_error:  # our enc_hook's words: the type it cannot carry
        return str(hook_error)
    except RecursionError:
        return "the value is nested too deep"
    except Exception:
        plain = None
    if plain is not None:
        found = _encode_walk(fmt, plain)
        if found is not None:
            return found
    if isinstance(exc, RecursionError):
        return "the value is nested too deep"
    detail = str(exc).strip()
    suffix = f" ({detail})" if detail else ""
    return f"a value the {_FORMAT_NAMES.get(fmt, fmt)} codec cannot carry{suffix}"


_MSGPACK_INT_RANGE = (-(2**63), 2**64 - 1)


def _encode_walk(fmt: str, value: Any) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"a string holds a lone surrogate ({item[exc.start : exc.end]!r}), which is not text"
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if fmt == "msgpack" and not _MSGPACK_INT_RANGE[0] <= item <= _MSGPACK_INT_RANGE[1]:
                return f"the integer {_clip(str(item))} is outside MessagePack's range (-2**63 to 2**64-1)"
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return None
