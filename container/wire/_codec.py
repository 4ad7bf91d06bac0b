"""The wire codec: a call's arguments and result to bytes and back, by the method's type hints.

Pure functions and small classes with no I/O. The pipeline, every listener and third-party
channels use this module, and tests drive it without a network.

Bodies (JSON shown; MessagePack carries the same shape)::

    call:   {"args": [...], "kwargs": {...}}
    result: {"result": ...}
    error:  {"error": {"type": "orders.errors.OutOfStock", "message": "...",
                       "args": [...], "fields": {"sku": "A-1", ...},
                       "chain": [{"type": ..., "message": ..., "path": ...}], "id": "..."}}

Arguments are decoded by the parameters' types and results by the return type (msgspec), so a
value of the wrong type is refused with the path of the bad field, for example
``argument 'data': value does not fit the declared type at `data.children[0].int_attr```
(followed by the decoder's detail in parentheses). Values carried:
builtins, list/dict/tuple/set, Optional/Union, Enum, datetime/date/time, UUID, Decimal, attrs
classes, dataclasses, msgspec Structs, and pydantic models when pydantic is installed. Nothing
is ever unpickled, and a type is never imported because a body names it.

Every way a body can fail to decode (malformed bytes, invalid UTF-8, nesting deeper than the
interpreter allows, numbers out of range, the wrong envelope, a value of the wrong type,
arguments that do not fit the signature) is a :class:`CodecError` with a
:class:`CodecErrorKind` and servicewire's own message (see :mod:`container.wire._failures`);
every way arguments can fail to encode is a :class:`~container.SerializationException`.
"""

from __future__ import annotations

import inspect
import sys
import threading
import typing
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec

from ..values._errors import (
    DEPENDENCY_FAILED,
    InvalidResponseException,
    RemoteError,
    RemoteServiceException,
    SerializationException,
    ServiceException,
    exception_fields,
    is_application_exception,
    not_run_exception,
    public_type_name,
    remote_exception,
)
from ..values._status import Status
from ._failures import CodecError as CodecError  # re-exported: it lives beside the diagnosis
from ._failures import (
    encode_problem,
    explain_call_failure,
    explain_failure,
    explain_result_failure,
    signature_error,
)

JSON = "application/json"
"""Content type of the JSON codec."""

MSGPACK = "application/msgpack"
"""Content type of the MessagePack codec."""


class MethodSignature(Protocol):
    """What the codec reads of a method: its names and type hints.

    The declarations' ``MethodDescriptor`` is one; the codec names this protocol instead, so
    that the wire sits below the declarations.
    """

    @property
    def name(self) -> str:
        """The method name."""

    @property
    def path(self) -> str:
        """``component/service/method``, for messages."""

    @property
    def signature(self) -> inspect.Signature:
        """The method's signature, ``self`` included."""

    @property
    def parameters(self) -> list[inspect.Parameter]:
        """The parameters after ``self``, in order."""

    @property
    def parameter_types(self) -> dict[str, Any]:
        """The type hint of each parameter, by name."""

    @property
    def return_type(self) -> Any:
        """The return type hint."""

_DECODE_FAILURES = (
    msgspec.DecodeError,
    NotImplementedError,  # _dec_hook: a type the codec cannot decode into
    msgspec.ValidationError,
    UnicodeError,
    RecursionError,
    OverflowError,
    ValueError,
    TypeError,
)
_ENCODE_FAILURES = (
    NotImplementedError,
    TypeError,
    ValueError,
    OverflowError,
    RecursionError,
    UnicodeError,
    msgspec.EncodeError,
)


def _enc_hook(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2 models
    if dump is not None:
        return dump(mode="json")
    raise NotImplementedError(f"cannot encode objects of type {type(value).__qualname__}")


def _dec_hook(target: type, value: Any) -> Any:
    if target is object:  # a parameter typed ``object`` takes any plain value, as ``Any`` does
        return value
    validate = getattr(target, "model_validate", None)  # pydantic v2 models
    if validate is not None:
        try:
            return validate(value)
        except Exception as exc:  # pydantic's ValidationError: report it as msgspec would
            raise ValueError(str(exc).replace("\n", "; ")) from None
    raise NotImplementedError(f"cannot decode into {target!r}")


class Codec:
    """One wire format: encoders and typed decoders for a content type.

    Attributes:
        content_type: the HTTP content type, for example ``application/json``.
        name: a short name, for example ``"json"``.
    """

    def __init__(
        self, content_type: str, name: str, encoder: Any, decoder_factory: Callable[..., Any]
    ) -> None:
        self.content_type = content_type
        self.name = name
        self._encoder = encoder
        self.decoder_factory = decoder_factory
        self._decoders: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def encode(self, value: Any) -> bytes:
        """Encode any supported value.

        Raises:
            TypeError, ValueError, OverflowError, msgspec.EncodeError: the value cannot be
                encoded (callers translate these).
        """
        return self._encoder.encode(value)  # type: ignore[no-any-return]

    def decoder(self, type_: Any) -> Any:
        """Return a (cached) msgspec decoder for ``type_``."""
        try:
            return self._decoders[type_]
        except (KeyError, TypeError):
            pass
        decoder = self.decoder_factory(type_, dec_hook=_dec_hook)
        try:
            with self._lock:
                self._decoders[type_] = decoder
        except TypeError:  # unhashable type hint: use uncached
            pass
        return decoder

    def decode(self, data: bytes, type_: Any = Any) -> Any:
        """Decode ``data`` into ``type_``.

        Raises:
            CodecError: the bytes are malformed or the value has the wrong type (its ``kind``
                says which).
        """
        try:
            return self.decoder(type_).decode(data)
        except _DECODE_FAILURES as exc:
            raise explain_failure(self.name, data, exc, f"{self.content_type} body", "value") from exc

    def __repr__(self) -> str:
        return f"<Codec {self.content_type}>"


JSON_CODEC = Codec(JSON, "json", msgspec.json.Encoder(enc_hook=_enc_hook), msgspec.json.Decoder)
"""The JSON codec. JSON has no NaN or infinity: msgspec writes them as ``null``."""

MSGPACK_CODEC = Codec(
    MSGPACK, "msgpack", msgspec.msgpack.Encoder(enc_hook=_enc_hook), msgspec.msgpack.Decoder
)
"""The MessagePack codec."""

CODECS: dict[str, Codec] = {JSON: JSON_CODEC, MSGPACK: MSGPACK_CODEC}
"""Codecs by content type."""


def codec_for(content_type: str | None) -> Codec | None:
    """Return the codec of a content type (parameters such as charset ignored), or None."""
    if not content_type:
        return None
    return CODECS.get(content_type.split(";", 1)[0].strip().lower())


class _CallBody(msgspec.Struct, forbid_unknown_fields=True):
    args: list[msgspec.Raw] = []
    kwargs: dict[str, msgspec.Raw] = {}


class MethodCodec:
    """Encodes and decodes calls of one method in one wire format.

    Args:
        method: the method's descriptor (its type hints drive decoding).
        codec: the wire format.
    """

    def __init__(self, method: MethodSignature, codec: Codec) -> None:
        self.method = method
        self.codec = codec
        self._positional: list[inspect.Parameter] = []
        self._var_positional: inspect.Parameter | None = None
        self._var_keyword: inspect.Parameter | None = None
        self._by_name: dict[str, inspect.Parameter] = {}
        for parameter in method.parameters:
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                self._positional.append(parameter)
            elif parameter.kind == parameter.VAR_POSITIONAL:
                self._var_positional = parameter
            elif parameter.kind == parameter.VAR_KEYWORD:
                self._var_keyword = parameter
            if parameter.kind not in (
                parameter.POSITIONAL_ONLY,
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            ):
                self._by_name[parameter.name] = parameter
        self._call_decoder = codec.decoder_factory(_CallBody)
        self._exact_decoder = self._exact_call_decoder(codec.decoder_factory)
        result_type = msgspec.defstruct("Result", [("result", method.return_type)])
        self._result_decoder = codec.decoder(result_type)

    def _exact_call_decoder(self, decoder_factory: Callable[..., Any]) -> Any:
        """A one-pass decoder for the usual call: every positional argument, no keywords.

        Returns None when the signature has ``*args`` or required keyword-only parameters.
        """
        if self._var_positional is not None or any(
            p.kind == p.KEYWORD_ONLY and p.default is p.empty for p in self.method.parameters
        ):
            return None
        types = tuple(self.method.parameter_types[p.name] for p in self._positional)
        args_type: Any = tuple.__class_getitem__(types) if types else tuple[()]  # tuple[T1, T2, ...]
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
            ("args", args_type),
            ("kwargs", dict[str, msgspec.Raw], {}),
        ]
        struct = msgspec.defstruct("ExactCall", fields, forbid_unknown_fields=True)
        return decoder_factory(struct, dec_hook=_dec_hook)

    # client side

    def encode_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        """Encode a call's arguments.

        Raises:
            SerializationException: an argument cannot be carried by this codec (a type it
                does not know, an integer out of MessagePack's range, a lone surrogate, ...).
        """
        try:
            return self.codec.encode({"args": args, "kwargs": kwargs})
        except _ENCODE_FAILURES as exc:
            problem = encode_problem(self.codec.name, {"args": args, "kwargs": kwargs}, exc, _enc_hook)
            raise SerializationException(
                f"cannot encode the arguments of {self.method.path} as {self.codec.name}: {problem}"
            ) from exc

    def decode_result(self, body: bytes) -> Any:
        """Decode a ``{"result": ...}`` body into the method's return type.

        Raises:
            CodecError: the body is malformed or of the wrong type (its ``kind`` says which).
        """
        try:
            return self._result_decoder.decode(body).result
        except _DECODE_FAILURES as exc:
            raise explain_result_failure(self.codec.name, self.method.path, body, exc) from exc

    # server side

    def decode_call(self, body: bytes) -> tuple[list[Any], dict[str, Any]]:
        """Decode a call body into arguments of the declared types.

        Raises:
            CodecError: the body is malformed, an argument has the wrong type (the message
                names the field path), or the arguments do not fit the signature; its
                ``kind`` (a :class:`CodecErrorKind`) says which.
        """
        exact = self._exact_decoder
        if exact is not None:
            try:
                call = exact.decode(body)
            except _DECODE_FAILURES:
                pass  # not the usual shape, or bad: the general path says exactly what is wrong
            else:
                if not call.kwargs:
                    return list(call.args), {}
        try:
            call = self._call_decoder.decode(body)
        except _DECODE_FAILURES as exc:
            raise explain_call_failure(self.codec.name, self.codec.content_type, body, exc) from exc
        raw_args, raw_kwargs = call.args, call.kwargs
        positional = self._positional
        if len(raw_args) > len(positional) and self._var_positional is None:
            raise signature_error(
                self.method.name,
                f"takes {len(positional)} positional argument(s) but {len(raw_args)} were given",
            )
        args = []
        for index, raw in enumerate(raw_args):
            parameter = positional[index] if index < len(positional) else self._var_positional
            assert parameter is not None
            args.append(self._decode_argument(parameter.name, raw))
        kwargs = {}
        for name, raw in raw_kwargs.items():
            parameter = self._by_name.get(name)
            if parameter is None and self._var_keyword is None:
                raise signature_error(self.method.name, f"got an unexpected keyword argument {name!r}")
            kwargs[name] = self._decode_argument(parameter.name if parameter else self._var_keyword.name, raw)  # type: ignore[union-attr]
        self._check_binding(len(args), kwargs)
        return args, kwargs

    def _check_binding(self, given: int, kwargs: dict[str, Any]) -> None:
        """Refuse arguments that do not bind to the signature, in servicewire's words."""
        by_position = {p.name for p in self._positional[:given]}
        twice = [name for name in kwargs if name in by_position and self._by_name.get(name) is not None]
        if twice:
            raise signature_error(self.method.name, f"got two values for the argument {twice[0]!r}")
        missing = [
            p.name
            for p in self.method.parameters
            if p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in by_position
            and not (p.name in kwargs and p.kind != p.POSITIONAL_ONLY)
        ]
        if missing:
            names = ", ".join(repr(name) for name in missing)
            raise signature_error(self.method.name, f"is missing the argument(s) {names}")

    def _decode_argument(self, name: str, raw: msgspec.Raw) -> Any:
        try:
            return self.codec.decoder(self.method.parameter_types[name]).decode(raw)
        except _DECODE_FAILURES as exc:
            raise explain_failure(
                self.codec.name, raw, exc, f"argument {name!r}", name, of=" of the argument"
            ) from exc

    def encode_result(self, value: Any) -> bytes:
        """Encode a ``{"result": ...}`` body.

        Raises:
            TypeError: the value is of a type the codec cannot carry.
        """
        try:
            return self.codec.encode({"result": value})
        except _ENCODE_FAILURES as exc:
            problem = encode_problem(self.codec.name, value, exc, _enc_hook)
            raise TypeError(f"cannot encode the result of {self.method.path}: {problem}") from exc

    def decode_error(self, body: bytes, status: int) -> ServiceException:
        """Turn an error body into the exception to raise on the caller's side."""
        return decode_error(self.codec, body, status, self.method.path)


# the error envelope


class _Link(msgspec.Struct, omit_defaults=True):
    type: str = "Error"
    message: str = ""
    path: str = ""


class _ErrorDetail(msgspec.Struct, omit_defaults=True):
    type: str = "Error"
    message: str = ""
    args: list[Any] | None = None
    fields: dict[str, msgspec.Raw] = {}
    chain: list[_Link] = []
    id: str = ""
    kind: str = ""  # optional, later than the first envelope: a CodecErrorKind on a 400


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail


def encode_error(
    codec: Codec,
    type_name: str,
    message: str,
    *,
    chain: tuple[RemoteError, ...] = (),
    error_id: str = "",
    kind: str = "",
) -> bytes:
    """Encode an error body with a type name and a message (protocol errors, hidden failures).

    ``kind`` is the machine-readable reason of a refusal (a :class:`CodecErrorKind` for a
    400); it is left out of the body when empty.
    """
    detail = _ErrorDetail(
        type_name,
        message,
        chain=[_Link(c.type, c.message, c.path) for c in chain],
        id=error_id,
        kind=str(kind),
    )
    return codec.encode(_ErrorBody(detail))


def encode_exception(
    codec: Codec, exc: BaseException, error_id: str = "", message: str | None = None, *, kind: str = ""
) -> bytes:
    """Encode the error body that tells a caller what an implementation raised.

    The body carries the exception's public type name and message; an application exception
    (see ``is_application_exception``) also carries its ``args`` and
    public attributes, so the caller can raise it again as itself. A
    :class:`~container.RemoteServiceException` (a further hop failed) carries that hop's
    error, and its chain, in ``chain``. ``message`` replaces the exception's text (debug
    mode appends the traceback this way); ``kind``, when given, is the envelope's
    machine-readable reason (``"dependency"`` for a relayed failure).
    """
    cls = type(exc)
    chain: list[_Link] = []
    args: list[Any] | None = None
    fields: dict[str, msgspec.Raw] = {}
    if isinstance(exc, RemoteServiceException):
        chain = [_Link(exc.remote_type, exc.remote_message, exc.path)]
        chain.extend(_Link(c.type, c.message, c.path) for c in exc.chain)
    elif is_application_exception(cls):
        args = _encodable_args(codec, exc)
        for name, value in exception_fields(exc).items():
            try:
                fields[name] = msgspec.Raw(codec.encode(value))
            except _ENCODE_FAILURES:
                continue  # an attribute the codec cannot carry stays behind
    text = str(exc) if message is None else message
    detail = _ErrorDetail(public_type_name(cls), text, args, fields, chain, error_id, kind)
    return codec.encode(_ErrorBody(detail))


def _encodable_args(codec: Codec, exc: BaseException) -> list[Any] | None:
    try:
        codec.encode(list(exc.args))
    except _ENCODE_FAILURES:
        return None
    return list(exc.args)


def exception_type_name(exc: BaseException) -> str:
    """Return the public name that identifies an exception's type on the wire."""
    return public_type_name(type(exc))


def decode_error(codec: Codec, body: bytes, status: int, path: str = "") -> ServiceException:
    """Turn an error body into the exception to raise on the caller's side.

    An application exception whose class this process has already imported (same module and
    qualified name) is raised again as itself, with its ``args`` and attributes; its module is
    never imported because a server named it. servicewire's own exception types are never
    revived. Anything else becomes :class:`~container.RemoteServiceException` with the remote
    type name, message, status, chain and error id.
    """
    try:
        detail = codec.decoder(_ErrorBody).decode(body).error
    except _DECODE_FAILURES:
        text = body[:200].decode("utf-8", "replace")
        return RemoteServiceException("InvalidErrorBody", f"status {status}: {text!r}", status, path=path)
    if status == Status.INTERNAL_ERROR:
        known = _known_application_exception(detail.type)
        if known is not None:
            revived = _revive(codec, known, detail)
            if revived is not None:
                return revived
    chain = tuple(RemoteError(c.type, c.message, c.path) for c in detail.chain)
    return remote_exception(status, detail.type, detail.message, chain, detail.id, path, kind=detail.kind)


def error_for_status(codec: Codec, status: int, body: bytes, url: str, path: str = "") -> ServiceException:
    """Turn a non-200 answer into the exception the caller sees.

    503 (the server did not run the call) is a :class:`~container.ServiceUnavailableException`
    with ``sent=False``, so the call may go to another instance; 504 (the deadline passed
    before the server ran it) is a :class:`~container.ServiceTimeoutException`; every other
    status, and a 503 or 504 relaying a dependency's failure (``kind`` ``"dependency"``: the
    call ran), is decoded by :func:`decode_error` (the status -> exception mapping lives beside the
    exceptions: :func:`container.values._errors.remote_exception`).
    """
    if status == Status.UNAVAILABLE or status == Status.DEADLINE_EXCEEDED:
        try:
            detail = codec.decoder(_ErrorBody).decode(body).error
        except _DECODE_FAILURES:
            detail = _ErrorDetail(message=body[:200].decode("utf-8", "replace"))
        if detail.kind != DEPENDENCY_FAILED:
            not_run = not_run_exception(status, detail.message, url)
            assert not_run is not None
            return not_run
    return decode_error(codec, body, status, path)


def bad_answer(url: str, exc: BaseException) -> InvalidResponseException:
    """Return the exception for an answer that arrived but could not be decoded."""
    return InvalidResponseException(f"bad answer from {url}: {exc}", url)


def _known_application_exception(type_name: str) -> type[ServiceException] | None:
    module_name, _, qualname = type_name.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        # A nested class: the module is a shorter prefix.
        parts = type_name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = sys.modules.get(".".join(parts[:cut]))
            if module is not None:
                qualname = ".".join(parts[cut:])
                break
    if module is None:
        return None
    value: Any = module
    for part in qualname.split("."):
        value = getattr(value, part, None)
    if isinstance(value, type) and is_application_exception(value):
        return value
    return None


_field_types_cache: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """Type hints of an exception's attributes: class annotations, else ``__init__`` parameters."""
    found = _field_types_cache.get(cls)
    if found is None:
        found = {}
        try:
            init = cls.__init__  # type: ignore[misc]
            if init is not BaseException.__init__:
                found.update(typing.get_type_hints(init))
            found.update(typing.get_type_hints(cls))
        except Exception:  # noqa: S110 - unresolvable hints: decode as plain values
            pass
        found.pop("return", None)
        _field_types_cache[cls] = found
    return found


def _revive(codec: Codec, cls: type[ServiceException], detail: _ErrorDetail) -> ServiceException | None:
    """Build an instance without calling ``__init__``: ``args`` and attributes as sent.

    An envelope without ``args`` comes from a server side of the first plugin contract, which
    sent only the type and the message: the class is built from the message when its
    constructor takes one, as servicewire 0.1 did, and reported as remote otherwise.
    """
    if detail.args is None and not detail.fields:
        try:
            return cls(detail.message)
        except Exception:
            return None
    try:
        exc = cls.__new__(cls)
        exc.args = tuple(detail.args) if detail.args is not None else (detail.message,)
        hints = _field_types(cls)
        for name, raw in detail.fields.items():
            if name.startswith("_"):
                continue
            try:
                value = codec.decoder(hints.get(name, Any)).decode(raw)
            except _DECODE_FAILURES:
                value = codec.decode(raw)
            setattr(exc, name, value)
    except Exception:  # a class that refuses this kind of construction: report it as remote
        return None
    return exc


def error_detail(codec: Codec, body: bytes) -> Mapping[str, Any] | None:
    """Return an error body's ``error`` mapping as plain values (for logs and tests), or None."""
    try:
        value = codec.decode(body)
    except CodecError:
        return None
    detail = value.get("error") if isinstance(value, dict) else None
    return detail if isinstance(detail, dict) else None
