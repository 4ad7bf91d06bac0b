"""The codec alone, without a network: typed round trips and the errors it reports."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from decimal import Decimal

import pydantic
import pytest

from container import (
    Component,
    ConfigurationException,
    RemoteError,
    RemoteServiceException,
    SerializationException,
    Service,
    ServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
    component,
    descriptor_of,
    service,
)
from container.codec import (
    JSON_CODEC,
    MSGPACK_CODEC,
    CodecError,
    CodecErrorKind,
    MethodCodec,
    codec_for,
    decode_error,
    encode_error,
    encode_exception,
    exception_type_name,
)

from .services import CalculatorError


class Address(pydantic.BaseModel):
    street: str
    number: int


@dataclasses.dataclass
class Person:
    name: str
    address: Address
    nick: str | None = None


@service(name="codec-test")
class CodecService(Service):
    @abstractmethod
    def move(self, person: Person, to: int | str, *, note: str = "") -> Person: ...

    @abstractmethod
    def nothing(self) -> None: ...


@component(name="codec-test-component", services=[CodecService])
class CodecComponent(Component):
    pass


METHODS = descriptor_of(CodecService).methods
CODECS = [JSON_CODEC, MSGPACK_CODEC]


@pytest.mark.parametrize("codec", CODECS, ids=["json", "msgpack"])
def test_call_and_result_round_trip(codec):
    """Arguments and results survive encode/decode by the method's hints, pydantic included."""
    method = MethodCodec(METHODS["move"], codec)
    person = Person("ann", Address(street="Main", number=3))
    args, kwargs = method.decode_call(method.encode_call((person, 5), {"note": "hi"}))
    assert args == [person, 5] and kwargs == {"note": "hi"}
    assert isinstance(args[0].address, Address)
    assert method.decode_result(method.encode_result(person)) == person


@pytest.mark.parametrize("codec", CODECS, ids=["json", "msgpack"])
def test_none_result(codec):
    """A method returning None round-trips None."""
    method = MethodCodec(METHODS["nothing"], codec)
    assert method.decode_result(method.encode_result(None)) is None


def test_bad_field_is_named_from_the_parameter():
    """A wrong type inside a pydantic model inside a dataclass names the argument and the path."""
    method = MethodCodec(METHODS["move"], JSON_CODEC)
    body = b'{"args": [{"name": "ann", "address": {"street": "Main", "number": 3}}, 1.5]}'
    with pytest.raises(CodecError, match="^argument 'to': value does not fit the declared type") as info:
        method.decode_call(body)
    assert info.value.kind is CodecErrorKind.WRONG_TYPE
    body = b'{"args": [{"name": 7, "address": {"street": "Main", "number": 3}}, 1]}'
    with pytest.raises(
        CodecError, match=r"^argument 'person': value does not fit the declared type at `person.name`"
    ) as info:
        method.decode_call(body)
    assert info.value.kind is CodecErrorKind.WRONG_TYPE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"args": [{"name": "a", "address": {"street": "s", "number": 1}}, 1, "x"]}',
            "move() takes 2 positional argument(s) but 3 were given",
        ),
        (
            b'{"args": [{"name": "a", "address": {"street": "s", "number": 1}}]}',
            "move() is missing the argument(s) 'to'",
        ),
        (b'{"args": [], "kwargs": {"to": 1}}', "move() is missing the argument(s) 'person'"),
        (
            b'{"args": [{"name": "a", "address": {"street": "s", "number": 1}}, 1], "kwargs": {"to": 2}}',
            "move() got two values for the argument 'to'",
        ),
        (
            b'{"args": [{"name": "a", "address": {"street": "s", "number": 1}}, 1], "kwargs": {"mood": 2}}',
            "move() got an unexpected keyword argument 'mood'",
        ),
    ],
    ids=["too-many", "missing", "missing-first", "twice", "unknown-keyword"],
)
def test_arguments_that_do_not_fit_the_signature_are_refused(body, message):
    """Arity follows the signature (a keyword-only parameter cannot be passed by position)."""
    with pytest.raises(CodecError) as info:
        MethodCodec(METHODS["move"], JSON_CODEC).decode_call(body)
    assert str(info.value) == message
    assert info.value.kind is CodecErrorKind.SIGNATURE


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (
            MSGPACK_CODEC.encode({"result": {"name": 1}}),
            CodecErrorKind.WRONG_TYPE,
            "value does not fit the declared type at `result.name`",
        ),
        (MSGPACK_CODEC.encode({"answer": 1}), CodecErrorKind.BAD_SHAPE, "the answer is not a result"),
        (b"\x81\xa6result\xa2\xff\xfe", CodecErrorKind.INVALID_UTF8, "invalid UTF-8 in a string at byte 9"),
    ],
    ids=["wrong-type", "not-a-result", "bad-utf8"],
)
def test_result_that_does_not_decode_is_refused(body, kind, message):
    """A result that does not fit the return type is a CodecError naming the method."""
    method = MethodCodec(METHODS["move"], MSGPACK_CODEC)
    with pytest.raises(CodecError) as info:
        method.decode_result(body)
    assert str(info.value).startswith(f"result of codec-test-component/codec-test/move: {message}")
    assert info.value.kind is kind


def test_unencodable_argument_is_a_serialization_exception():
    """An argument the codec cannot carry fails on the caller's side, naming the method."""
    method = MethodCodec(METHODS["move"], JSON_CODEC)
    with pytest.raises(SerializationException, match="cannot encode the arguments of .*move"):
        method.encode_call((object(), 1), {})


def test_known_service_exception_is_rebuilt():
    """An error body naming an imported ServiceException subclass yields that class."""
    body = encode_error(JSON_CODEC, exception_type_name(CalculatorError("x")), "by zero")
    error = decode_error(JSON_CODEC, body, 500)
    assert type(error) is CalculatorError and str(error) == "by zero"


def test_unknown_or_unsafe_types_stay_remote():
    """A type that is not an imported ServiceException is never imported or built."""
    for name in ("builtins.ValueError", "os.system", "not_imported_module.Evil"):
        error = decode_error(MSGPACK_CODEC, encode_error(MSGPACK_CODEC, name, "m"), 500)
        assert type(error) is RemoteServiceException
        assert error.remote_type == name and error.remote_message == "m"


def test_garbage_error_body():
    """An error body that is not an error document is reported with its status."""
    error = decode_error(JSON_CODEC, b"<html>bad gateway</html>", 502)
    assert isinstance(error, RemoteServiceException)
    assert error.status == 502 and "bad gateway" in error.remote_message


def test_codec_for_content_types():
    """Content types select codecs; parameters are ignored; unknown types give None."""
    assert codec_for("application/json; charset=utf-8") is JSON_CODEC
    assert codec_for("Application/MsgPack") is MSGPACK_CODEC
    assert codec_for("text/plain") is None and codec_for(None) is None


# the error envelope


class Shortage(ServiceException):
    """An application exception whose constructor is not (message)."""

    def __init__(self, sku: str, wanted: int, left: Decimal) -> None:
        super().__init__(f"{sku}: wanted {wanted}, {left} left")
        self.sku = sku
        self.wanted = wanted
        self.left = left


class Coded(ServiceException):
    """An application exception with several args and its own __str__."""

    def __str__(self) -> str:
        return f"code {self.args[0]}: {self.args[1]}"


@pytest.mark.parametrize("codec", CODECS, ids=["json", "msgpack"])
def test_application_exception_round_trips_with_its_fields_and_types(codec):
    """Type, attributes (typed by the constructor's hints), args and str() survive the envelope."""
    body = encode_exception(codec, Shortage("A-1", 5, Decimal("2.50")))
    revived = decode_error(codec, body, 500)
    assert type(revived) is Shortage
    assert (revived.sku, revived.wanted, revived.left) == ("A-1", 5, Decimal("2.50"))
    assert isinstance(revived.left, Decimal)
    assert str(revived) == "A-1: wanted 5, 2.50 left"
    coded = decode_error(codec, encode_exception(codec, Coded(42, "teapot")), 500)
    assert type(coded) is Coded and coded.args == (42, "teapot") and str(coded) == "code 42: teapot"


@pytest.mark.parametrize(
    "exc",
    [
        ServiceUnavailableException("downstream refused", "http://x"),
        ServiceTimeoutException("http://x", "deadline", 1.0),
        ConfigurationException("bad key"),
        ServiceException("the root itself"),
    ],
    ids=["unavailable", "timeout", "configuration", "root"],
)
def test_servicewire_exceptions_are_never_revived(exc):
    """What the server raised of servicewire's own is a RemoteServiceException for the caller."""
    error = decode_error(JSON_CODEC, encode_exception(JSON_CODEC, exc), 500)
    assert type(error) is RemoteServiceException
    assert error.remote_type == f"container.{type(exc).__name__}"
    assert error.remote_message == str(exc)


def test_a_remote_failure_passed_on_keeps_its_chain():
    """A RemoteServiceException an implementation lets through carries the hops below it."""
    root = RemoteServiceException("builtins.KeyError", "'sku'", 500, path="inventory/inventory/reserve")
    middle = RemoteServiceException(
        "container.RemoteServiceException",
        str(root),
        500,
        (RemoteError("builtins.KeyError", "'sku'", root.path),),
    )
    error = decode_error(MSGPACK_CODEC, encode_exception(MSGPACK_CODEC, middle), 500, "client/orders/place")
    assert error.remote_type == "container.RemoteServiceException" and error.path == "client/orders/place"
    assert [link.type for link in error.chain] == ["container.RemoteServiceException", "builtins.KeyError"]
    assert error.root_cause == RemoteError("builtins.KeyError", "'sku'", "inventory/inventory/reserve")


def test_an_attribute_the_codec_cannot_carry_stays_behind():
    """A field that cannot be encoded is left out; the rest still arrives."""
    shortage = Shortage("A-1", 1, Decimal(0))
    shortage.connection = object()
    revived = decode_error(JSON_CODEC, encode_exception(JSON_CODEC, shortage), 500)
    assert revived.sku == "A-1" and not hasattr(revived, "connection")


# hostile bodies


K = CodecErrorKind
JSON_BODY = "application/json body"
MSGPACK_BODY = "application/msgpack body"
DEEP_JSON = b'{"args": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"
DEEP_MSGPACK = b"\x81\xa4args\x91" + b"\x91" * 50_000 + b"\xc0"
ARG = "argument 'value'"
OF_ARG = "of the argument"


def case(id_, codec, method, body, kind, message):
    return pytest.param(codec, method, body, kind, message, id=id_)


@pytest.mark.parametrize(
    ("codec", "method", "body", "kind", "message"),
    [
        case("deep-json", JSON_CODEC, "scale", DEEP_JSON, K.TOO_DEEP,
             f"{JSON_BODY}: nested deeper than the decoder follows"),
        case("deep-msgpack", MSGPACK_CODEC, "scale", DEEP_MSGPACK, K.TOO_DEEP,
             f"{MSGPACK_BODY}: nested deeper than the decoder follows"),
        case("bad-utf8-json", JSON_CODEC, "anything", b'{"args": ["\xff\xfe"]}', K.INVALID_UTF8,
             f"{ARG}: invalid UTF-8 at byte 1 {OF_ARG}"),
        case("bad-utf8-json-key", JSON_CODEC, "anything", b'{"args": ["\xff"], "kwargs": {"\xff": 1}}',
             K.INVALID_UTF8, f"{JSON_BODY}: invalid UTF-8 at byte 11"),
        case("bad-utf8-msgpack", MSGPACK_CODEC, "anything", b"\x81\xa4args\x91\xa2\xff\xfe", K.INVALID_UTF8,
             f"{ARG}: invalid UTF-8 in a string at byte 1 {OF_ARG}"),
        case("lone-surrogate", JSON_CODEC, "anything", b'{"args": ["\\ud800"]}', K.INVALID_UTF8,
             f"{JSON_BODY}: a string escapes a lone surrogate ('\\ud800'), which is not text"),
        case("huge-float", JSON_CODEC, "scale", b'{"args": [1e400]}', K.NUMBER_OUT_OF_RANGE,
             "argument 'factor': number out of range: 1e400"),
        case("huge-int", JSON_CODEC, "anything", b'{"args": [' + b"7" * 5000 + b"]}", K.NUMBER_OUT_OF_RANGE,
             f"{ARG}: number out of range: an integer of 5000 digits"),
        case("nan", JSON_CODEC, "scale", b'{"args": [NaN]}', K.MALFORMED,
             f"{JSON_BODY}: malformed JSON: NaN is not a JSON number"),
        case("infinity", JSON_CODEC, "scale", b'{"args": [-Infinity]}', K.MALFORMED,
             f"{JSON_BODY}: malformed JSON: -Infinity is not a JSON number"),
        case("syntax", JSON_CODEC, "scale", b'{"args": [1,,]}', K.MALFORMED,
             f"{JSON_BODY}: malformed JSON at line 1, column 13"),
        case("truncated-json", JSON_CODEC, "scale", b'{"args": [1', K.MALFORMED,
             f"{JSON_BODY}: malformed JSON: it ends in the middle of a value"),
        case("truncated-msgpack", MSGPACK_CODEC, "scale", b"\x81\xa4args\x92\x01", K.MALFORMED,
             f"{MSGPACK_BODY}: malformed MessagePack: it ends in the middle of a value"),
        case("trailing-msgpack", MSGPACK_CODEC, "scale", b"\x81\xa4args\x91\x01\x00\x00", K.MALFORMED,
             f"{MSGPACK_BODY}: malformed MessagePack: 2 byte(s) after the value"),
        case("reserved-byte", MSGPACK_CODEC, "scale", b"\x81\xa4args\x91\xc1", K.MALFORMED,
             f"{MSGPACK_BODY}: malformed MessagePack: the reserved byte 0xc1 at byte 7"),
        case("timestamp-size", MSGPACK_CODEC, "anything", b"\x81\xa4args\x91\xc7\x05\xff" + bytes(5),
             K.MALFORMED, f"{ARG}: malformed MessagePack: a timestamp of 5 bytes (4, 8 or 12) at byte 0"),
        case("timestamp-range", MSGPACK_CODEC, "anything",
             b"\x81\xa4args\x91\xc7\x0c\xff" + bytes(4) + b"\x7f" + b"\xff" * 7,
             K.NUMBER_OUT_OF_RANGE, f"{ARG}: timestamp out of a datetime's range at byte 0 {OF_ARG}"),
        case("not-a-map", JSON_CODEC, "scale", b"[1]", K.BAD_SHAPE,
             f"{JSON_BODY} is not a call: expected a map with the keys 'args' and 'kwargs'"),
        case("args-not-array", JSON_CODEC, "scale", b'{"args": 1.5}', K.BAD_SHAPE,
             f"{JSON_BODY} is not a call: 'args' must be an array"),
        case("two-documents", MSGPACK_CODEC, "scale", b"\x81\xa4args\x90\x81\x01\x02", K.MALFORMED,
             f"{MSGPACK_BODY}: malformed MessagePack: 3 byte(s) after the value"),
        case("kwargs-int-keys", MSGPACK_CODEC, "scale", b"\x81\xa6kwargs\x81\x01\x02", K.BAD_SHAPE,
             f"{MSGPACK_BODY} is not a call: 'kwargs' must map argument names to values"),
        case("unknown-key", JSON_CODEC, "scale", b'{"args": [], "extra": 1}', K.BAD_SHAPE,
             f"{JSON_BODY} is not a call: unknown key 'extra' (a call has only 'args' and 'kwargs')"),
        case("wrong-type", JSON_CODEC, "scale", b'{"args": ["fast"]}', K.WRONG_TYPE,
             "argument 'factor': value does not fit the declared type at `factor`"),
    ],
)  # fmt: skip
def test_every_codec_failure_is_a_codec_error_in_servicewire_words(codec, method, body, kind, message):
    """Hostile bodies never escape as RecursionError, UnicodeError or OverflowError; each says what, where."""
    with pytest.raises(CodecError) as info:
        MethodCodec(METHODS_NUMBERS[method], codec).decode_call(body)
    assert info.value.kind is kind
    assert str(info.value).startswith(message), str(info.value)


def test_a_codec_error_keeps_its_kind_through_pickling():
    """A CodecError crosses process boundaries (multiprocessing, logging handlers) with its kind."""
    import pickle

    error = CodecError("argument 'x': number out of range: 1e400", CodecErrorKind.NUMBER_OUT_OF_RANGE)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.kind is CodecErrorKind.NUMBER_OUT_OF_RANGE
    assert CodecError("no kind given").kind is CodecErrorKind.MALFORMED


def test_a_parameter_typed_object_takes_any_plain_value():
    """``object`` decodes as any plain value would (it used to fail inside the decoder's hook)."""
    method = MethodCodec(METHODS_NUMBERS["anything"], MSGPACK_CODEC)
    assert method.decode_call(method.encode_call(({"a": [1, "b"]},), {})) == ([{"a": [1, "b"]}], {})


@pytest.mark.parametrize(
    ("codec", "value", "words"),
    [
        (MSGPACK_CODEC, 2**70, "the integer 1180591620717411303424 is outside MessagePack's range"),
        (MSGPACK_CODEC, [{"deep": [-(2**64)]}], "the integer -18446744073709551616 is outside"),
        (JSON_CODEC, "\ud800", "a string holds a lone surrogate ('\\ud800'), which is not text"),
        (JSON_CODEC, {"key": object()}, "cannot encode objects of type object"),
    ],
    ids=["int-over-64-bits", "nested-int", "lone-surrogate", "unknown-type"],
)
def test_arguments_the_codec_cannot_carry_are_a_serialization_exception(codec, value, words):
    """Encoding failures on the caller's side are a SerializationException (also a TypeError)."""
    method = MethodCodec(METHODS_NUMBERS["anything"], codec)
    with pytest.raises(SerializationException) as info:
        method.encode_call((value,), {})
    path = "codec-numbers-component/codec-numbers/anything"
    assert str(info.value).startswith(f"cannot encode the arguments of {path} as {codec.name}: {words}")
    assert isinstance(info.value, TypeError)


@service(name="codec-numbers")
class NumbersService(Service):
    @abstractmethod
    def scale(self, factor: float) -> float: ...

    @abstractmethod
    def anything(self, value: object) -> None: ...


@component(name="codec-numbers-component", services=[NumbersService])
class NumbersComponent(Component):
    pass


METHODS_NUMBERS = descriptor_of(NumbersService).methods
