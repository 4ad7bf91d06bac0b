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
    """A wrong type inside a pydantic model inside a dataclass names the path."""
    method = MethodCodec(METHODS["move"], JSON_CODEC)
    body = b'{"args": [{"name": "ann", "address": {"street": "Main", "number": 3}}, 1.5]}'
    with pytest.raises(CodecError, match="argument 'to'"):
        method.decode_call(body)
    body = b'{"args": [{"name": 7, "address": {"street": "Main", "number": 3}}, 1]}'
    with pytest.raises(CodecError, match=r"argument 'person': Expected `str`, got `int` - at `person.name`"):
        method.decode_call(body)


def test_keyword_only_passed_positionally_is_refused():
    """Arity follows the signature: a keyword-only parameter cannot be passed by position."""
    method = MethodCodec(METHODS["move"], JSON_CODEC)
    body = b'{"args": [{"name": "a", "address": {"street": "s", "number": 1}}, 1, "x"]}'
    with pytest.raises(CodecError, match="takes 2 positional argument"):
        method.decode_call(body)


def test_result_of_wrong_type_is_refused():
    """A result that does not fit the return type is a CodecError naming the method."""
    method = MethodCodec(METHODS["move"], MSGPACK_CODEC)
    with pytest.raises(CodecError, match="result of codec-test-component/codec-test/move"):
        method.decode_result(MSGPACK_CODEC.encode({"result": {"name": 1}}))


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


@pytest.mark.parametrize(
    ("codec", "method", "body", "fragment"),
    [
        (JSON_CODEC, "scale", b'{"args": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}", "nesting too deep"),
        (MSGPACK_CODEC, "scale", b"\x81\xa4args\x91" + b"\x91" * 50_000 + b"\xc0", "nesting too deep"),
        (JSON_CODEC, "anything", b'{"args": ["\xff\xfe"]}', "invalid UTF-8"),
        (MSGPACK_CODEC, "anything", b"\x81\xa4args\x91\xa2\xff\xfe", "invalid UTF-8"),
        (JSON_CODEC, "scale", b'{"args": [1e400]}', "Number out of range"),
        (JSON_CODEC, "scale", b'{"args": [NaN]}', "malformed application/json body"),
        (JSON_CODEC, "scale", b'{"args": [Infinity]}', "malformed application/json body"),
    ],
    ids=["deep-json", "deep-msgpack", "bad-utf8-json", "bad-utf8-msgpack", "huge-number", "nan", "infinity"],
)
def test_every_codec_failure_is_a_codec_error(codec, method, body, fragment):
    """Hostile bodies never escape as RecursionError, UnicodeError or OverflowError."""
    with pytest.raises(CodecError, match=fragment):
        MethodCodec(METHODS_NUMBERS[method], codec).decode_call(body)


@pytest.mark.parametrize(
    ("codec", "value", "fragment"),
    [
        (MSGPACK_CODEC, 2**70, "can't serialize ints"),
        (JSON_CODEC, "\ud800", "surrogates not allowed"),
    ],
    ids=["int-over-64-bits", "lone-surrogate"],
)
def test_arguments_the_codec_cannot_carry_are_a_serialization_exception(codec, value, fragment):
    """Encoding failures on the caller's side are a SerializationException (also a TypeError)."""
    method = MethodCodec(METHODS_NUMBERS["anything"], codec)
    with pytest.raises(SerializationException, match=fragment) as info:
        method.encode_call((value,), {})
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
