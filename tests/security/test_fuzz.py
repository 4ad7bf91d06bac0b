"""Property-based fuzzing of what a hostile peer controls: request bodies, metadata, targets, answers.

Properties: the dispatcher always answers (never raises) and refuses malformed input with 400
(never 500, which would mean our code broke on it); answers and error bodies from a hostile
server become documented exceptions; the router never raises. ``make test`` runs the "ci"
profile (bounded); ``make fuzz`` runs the "fuzz" profile (many more examples).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channels.http._routes import route
from container import ListenerlessServer, ServiceException, descriptor_of
from container.codec import CODECS, CodecError, CodecErrorKind, MethodCodec, decode_error, error_for_status
from container.plugin import Dispatcher, ServerRequest, deadline_from_metadata
from tests.channels.conftest import ServerContainer
from tests.channels.services import WireService

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CONTENT_TYPES = sorted(CODECS)
METHODS = [m for m in descriptor_of(WireService).methods.values() if m.name not in ("sleep", "crash")]
PATHS = [m.path for m in METHODS]
KINDS = {kind.value for kind in CodecErrorKind}

# JSON-like values: what a hostile caller can put in a body through either codec.
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
metadata = st.dictionaries(
    st.sampled_from(["sw-timeout-ms", "authorization", "x-trace", "tenant", "content-type"])
    | st.text(min_size=1, max_size=10),
    st.text(max_size=40),
    max_size=4,
)


@pytest.fixture(scope="module")
def dispatcher() -> Iterator[Dispatcher]:
    server = ListenerlessServer()
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    assert server.dispatcher is not None
    yield server.dispatcher
    server.shutdown()


def encode(content_type: str, value: Any) -> bytes:
    try:
        if content_type == "application/json":
            return msgspec.json.encode(value)
        return msgspec.msgpack.encode(value)
    except (TypeError, OverflowError, ValueError):
        return b"\xc1"  # what the codec cannot express: send an invalid byte instead


@given(
    path=st.sampled_from(PATHS),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=st.binary(max_size=300),
    meta=metadata,
)
def test_random_bytes_are_refused_with_400_never_500(dispatcher, path, content_type, body, meta):
    response = dispatcher.handle(ServerRequest(path, body, content_type, meta))
    assert response.status in (200, 400, 504), (response.status, response.body[:200])


ASCII_MILLISECONDS = re.compile(r"[0-9]{1,10}")


@given(value=st.text(max_size=14).filter(lambda v: not ASCII_MILLISECONDS.fullmatch(v)))
@example(value="\uff15\uff10\uff10\uff10")  # fullwidth digits, which int() reads as 5000
@example(value="\u0665\u0660\u0660\u0660")  # Arabic-Indic digits
@example(value="5_000")
@example(value="+5000")
def test_a_deadline_that_is_not_1_to_10_ascii_digits_is_400(dispatcher, value):
    """Never read as "no deadline": the caller meant one, and the server cannot tell which."""
    request = ServerRequest(PATHS[0], b'{"args": []}', "application/json", {"sw-timeout-ms": value})
    response = dispatcher.handle(request)
    assert response.status == 400, (value, response.status)
    assert "sw-timeout-ms" in CODECS["application/json"].decode(response.body)["error"]["message"]
    assert deadline_from_metadata(value) is None


@given(
    path=st.sampled_from(PATHS),
    content_type=st.sampled_from(CONTENT_TYPES),
    args=st.lists(values, max_size=4),
    kwargs=st.dictionaries(st.text(max_size=10), values, max_size=3),
    extra=st.dictionaries(st.text(max_size=6), values, max_size=2),
)
def test_well_formed_bodies_of_the_wrong_shape_are_refused_with_400(
    dispatcher, path, content_type, args, kwargs, extra
):
    body = encode(content_type, {"args": args, "kwargs": kwargs, **extra})
    response = dispatcher.handle(ServerRequest(path, body, content_type, {}))
    if response.status == 500:  # withdraw() refuses what it cannot pay: its own exception, not ours
        error = CODECS[content_type].decode(response.body)["error"]
        assert error["type"] == "tests.channels.services.InsufficientFunds", error
        return
    assert response.status in (200, 400), (response.status, response.body[:200])
    if response.status == 400:
        error = CODECS[content_type].decode(response.body)["error"]
        assert error["type"] == "BadRequest" and error["message"]
        assert error["kind"] in KINDS


def says_why(error: CodecError, method_name: str) -> bool:
    """A CodecError opens with servicewire's subject, whatever the decoder said."""
    subjects = ("application/json body", "application/msgpack body", "argument '", f"{method_name}() ")
    return error.kind in CodecErrorKind and str(error).startswith(subjects)


def mutated(data: bytes, cut: int, index: int, byte: int) -> bytes:
    """A valid body broken the way a wire breaks it: cut short, or one byte changed."""
    if cut % 2:
        return data[: cut % (len(data) + 1)]
    position = index % len(data)
    return data[:position] + bytes([byte]) + data[position + 1 :]


@given(
    method=st.sampled_from(METHODS),
    content_type=st.sampled_from(CONTENT_TYPES),
    args=st.lists(values, max_size=4),
    cut=st.integers(min_value=0, max_value=400),
    index=st.integers(min_value=0, max_value=400),
    byte=st.integers(min_value=0, max_value=255),
    noise=st.none() | st.binary(max_size=300),
)
def test_every_refused_body_says_why_in_servicewire_words(
    method, content_type, args, cut, index, byte, noise
):
    body = mutated(encode(content_type, {"args": args}), cut, index, byte) if noise is None else noise
    try:
        MethodCodec(method, CODECS[content_type]).decode_call(body)
    except CodecError as error:
        assert says_why(error, method.name), (error.kind, str(error))


@given(target=st.text(max_size=80) | st.sampled_from(["/invoke/a/b/c", "/health/x", "/report", "/metrics"]))
def test_the_router_never_raises(target):
    found = route(target)
    assert found.kind in ("invoke", "health", "report", "metrics", "other", "bad")


@given(
    content_type=st.sampled_from(CONTENT_TYPES),
    status=st.sampled_from([400, 401, 403, 404, 413, 415, 500, 502, 503, 504, 599]),
    body=st.binary(max_size=300) | values.map(lambda v: msgspec.json.encode({"error": v})),
)
def test_hostile_error_bodies_become_service_exceptions(content_type, status, body):
    codec = CODECS[content_type]
    assert isinstance(decode_error(codec, body, status, "a/b/c"), ServiceException)
    assert isinstance(error_for_status(codec, status, body, "http://x", "a/b/c"), ServiceException)


@given(
    method=st.sampled_from(METHODS),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=st.binary(max_size=300) | values.map(lambda v: msgspec.json.encode({"result": v})),
)
def test_hostile_answers_are_codec_errors_or_values(method, content_type, body):
    codec = MethodCodec(method, CODECS[content_type])
    try:
        codec.decode_result(body)
    except CodecError:
        pass
