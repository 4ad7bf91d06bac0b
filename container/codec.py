"""The wire codec: a call's arguments and result to bytes and back, by the method's type hints.

Pure functions and small classes with no I/O. The HTTP client, the WSGI side and third-party
channels all use this module, and tests drive it without a network.

Bodies (JSON shown; MessagePack carries the same shape)::

    call:   {"args": [...], "kwargs": {...}}
    result: {"result": ...}
    error:  {"error": {"type": "package.module.ExceptionName", "message": "..."}}

Arguments are decoded by the parameters' types and results by the return type (msgspec), so a
value of the wrong type is refused with the path of the bad field, for example
``argument 'data': Expected `int`, got `str` - at `data.children[0].int_attr```. Values carried:
builtins, list/dict/tuple/set, Optional/Union, Enum, datetime/date/time, UUID, Decimal, attrs
classes, dataclasses, msgspec Structs, and pydantic models when pydantic is installed. Nothing
is ever unpickled.
"""

from __future__ import annotations

import inspect
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from ._descriptors import MethodDescriptor
from ._errors import RemoteServiceException, ServiceException

JSON = "application/json"
"""Content type of the JSON codec."""

MSGPACK = "application/msgpack"
"""Content type of the MessagePack codec."""


class CodecError(ValueError):
    """A body could not be decoded, or decoded to values of the wrong type or arity."""


def _enc_hook(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2 models
    if dump is not None:
        return dump(mode="json")
    raise NotImplementedError(f"cannot encode objects of type {type(value).__qualname__}")


def _dec_hook(target: type, value: Any) -> Any:
    validate = getattr(target, "model_validate", None)  # pydantic v2 models
    if validate is not None:
        return validate(value)
    raise NotImplementedError(f"cannot decode into {target!r}")


class Codec:
    """One wire format: encoders and typed decoders for a content type.

    Attributes:
        content_type: the HTTP content type, for example ``application/json``.
    """

    def __init__(
        self,
        content_type: str,
        encoder: Any,
        decoder_factory: Callable[..., Any],
    ) -> None:
        self.content_type = content_type
        self._encoder = encoder
        self._decoder_factory = decoder_factory
        self._decoders: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def encode(self, value: Any) -> bytes:
        """Encode any supported value."""
        return self._encoder.encode(value)  # type: ignore[no-any-return]

    def decoder(self, type_: Any) -> Any:
        """Return a (cached) msgspec decoder for ``type_``."""
        try:
            return self._decoders[type_]
        except (KeyError, TypeError):
            pass
        decoder = self._decoder_factory(type_, dec_hook=_dec_hook)
        try:
            with self._lock:
                self._decoders[type_] = decoder
        except TypeError:  # unhashable type hint: use uncached
            pass
        return decoder

    def decode(self, data: bytes, type_: Any = Any) -> Any:
        """Decode ``data`` into ``type_``.

        Raises:
            CodecError: the bytes are malformed or the value has the wrong type.
        """
        try:
            return self.decoder(type_).decode(data)
        except msgspec.ValidationError as exc:
            raise CodecError(_with_root(str(exc), "value")) from exc
        except msgspec.DecodeError as exc:
            raise CodecError(f"malformed {self.content_type} body: {exc}") from exc


JSON_CODEC = Codec(JSON, msgspec.json.Encoder(enc_hook=_enc_hook), msgspec.json.Decoder)
"""The JSON codec."""

MSGPACK_CODEC = Codec(MSGPACK, msgspec.msgpack.Encoder(enc_hook=_enc_hook), msgspec.msgpack.Decoder)
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


class _ErrorDetail(msgspec.Struct):
    type: str = "Error"
    message: str = ""


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail


class MethodCodec:
    """Encodes and decodes calls of one method in one wire format.

    Args:
        method: the method's descriptor (its type hints drive decoding).
        codec: the wire format.
    """

    def __init__(self, method: MethodDescriptor, codec: Codec) -> None:
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
        decoder_factory = msgspec.json.Decoder if codec is JSON_CODEC else msgspec.msgpack.Decoder
        self._call_decoder = decoder_factory(_CallBody)
        self._exact_decoder = self._exact_call_decoder(decoder_factory)
        result_type = msgspec.defstruct("Result", [("result", method.return_type)])
        self._result_decoder = codec.decoder(result_type)
        self._error_decoder = codec.decoder(_ErrorBody)

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
            TypeError: an argument is of a type the codec cannot carry.
        """
        try:
            return self.codec.encode({"args": args, "kwargs": kwargs})
        except (NotImplementedError, TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"cannot encode the arguments of {self.method.path}: {exc}") from exc

    def decode_result(self, body: bytes) -> Any:
        """Decode a ``{"result": ...}`` body into the method's return type.

        Raises:
            CodecError: the body is malformed or of the wrong type.
        """
        try:
            return self._result_decoder.decode(body).result
        except msgspec.ValidationError as exc:
            raise CodecError(
                f"result of {self.method.path}: {_with_root(str(exc), 'result', strip='.result')}"
            ) from exc
        except msgspec.DecodeError as exc:
            raise CodecError(f"malformed {self.codec.content_type} result: {exc}") from exc

    # server side

    def decode_call(self, body: bytes) -> tuple[list[Any], dict[str, Any]]:
        """Decode a call body into arguments of the declared types.

        Raises:
            CodecError: the body is malformed, an argument has the wrong type (the message
                names the field path), or the arguments do not fit the signature.
        """
        exact = self._exact_decoder
        if exact is not None:
            try:
                call = exact.decode(body)
            except (msgspec.ValidationError, msgspec.DecodeError):
                pass  # not the usual shape, or bad: the general path says exactly what is wrong
            else:
                if not call.kwargs:
                    return list(call.args), {}
        try:
            call = self._call_decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise CodecError(f"call body: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise CodecError(f"malformed {self.codec.content_type} body: {exc}") from exc
        raw_args, raw_kwargs = call.args, call.kwargs
        positional = self._positional
        if len(raw_args) > len(positional) and self._var_positional is None:
            raise CodecError(
                f"{self.method.name}() takes {len(positional)} positional argument(s) but "
                f"{len(raw_args)} were given"
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
                raise CodecError(f"{self.method.name}() got an unexpected keyword argument {name!r}")
            kwargs[name] = self._decode_argument(parameter.name if parameter else self._var_keyword.name, raw)  # type: ignore[union-attr]
        try:
            self.method.signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise CodecError(f"{self.method.name}(): {exc}") from exc
        return args, kwargs

    def _decode_argument(self, name: str, raw: msgspec.Raw) -> Any:
        try:
            return self.codec.decoder(self.method.parameter_types[name]).decode(raw)
        except msgspec.ValidationError as exc:
            raise CodecError(f"argument {name!r}: {_with_root(str(exc), name)}") from exc
        except msgspec.DecodeError as exc:
            raise CodecError(f"argument {name!r}: {exc}") from exc

    def encode_result(self, value: Any) -> bytes:
        """Encode a ``{"result": ...}`` body.

        Raises:
            TypeError: the value is of a type the codec cannot carry.
        """
        try:
            return self.codec.encode({"result": value})
        except (NotImplementedError, TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"cannot encode the result of {self.method.path}: {exc}") from exc

    def decode_error(self, body: bytes, status: int) -> ServiceException:
        """Turn an error body into the exception to raise on the caller's side."""
        return decode_error(self.codec, body, status)


def encode_error(codec: Codec, type_name: str, message: str) -> bytes:
    """Encode an ``{"error": {"type": ..., "message": ...}}`` body."""
    return codec.encode({"error": {"type": type_name, "message": message}})


def exception_type_name(exc: BaseException) -> str:
    """Return the qualified name that identifies an exception type on the wire."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def decode_error(codec: Codec, body: bytes, status: int) -> ServiceException:
    """Turn an error body into an exception.

    A :class:`ServiceException` subclass that this process has already imported is raised
    again as itself (its module is never imported because a server said so). Anything else
    becomes :class:`RemoteServiceException` with the remote type name and message.
    """
    try:
        detail = codec.decoder(_ErrorBody).decode(body).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = body[:200].decode("utf-8", "replace")
        return RemoteServiceException("InvalidErrorBody", f"status {status}: {text!r}", status)
    known = _known_service_exception(detail.type)
    if known is not None:
        try:
            return known(detail.message)
        except Exception:  # noqa: S110 - a constructor with other arguments: fall back
            pass
    return RemoteServiceException(detail.type, detail.message, status)


def _known_service_exception(type_name: str) -> type[ServiceException] | None:
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
    if isinstance(value, type) and issubclass(value, ServiceException):
        return value
    return None


_ROOT = re.compile(r"`\$")


def _with_root(message: str, root: str, strip: str = "") -> str:
    if strip:
        message = message.replace(f"`${strip}", "`$")
    return _ROOT.sub(f"`{root}", message)
