"""The codec alone, without a network: typed round trips and the errors it reports."""

from __future__ import annotations

import dataclasses
from abc import abstractmethod

import pydantic
import pytest

from container import Component, RemoteServiceException, Service, component, descriptor_of, service
from container.codec import (
    JSON_CODEC,
    MSGPACK_CODEC,
    CodecError,
    MethodCodec,
    codec_for,
    decode_error,
    encode_error,
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


def test_unencodable_argument_is_a_type_error():
    """An argument the codec cannot carry fails on the caller's side, naming the method."""
    method = MethodCodec(METHODS["move"], JSON_CODEC)
    with pytest.raises(TypeError, match="cannot encode the arguments of .*move"):
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
