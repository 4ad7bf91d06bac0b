"""The wire protocol, driven with raw bytes through plain requests (not our client)."""

from __future__ import annotations

import json
import logging

import msgspec
import pytest
import requests

JSON = "application/json"
MSGPACK = "application/msgpack"


def post(base_url: str, path: str, body: bytes, content_type: str = JSON) -> requests.Response:
    return requests.post(f"{base_url}{path}", data=body, headers={"Content-Type": content_type}, timeout=10)


def error_of(response: requests.Response) -> dict:
    if response.headers["Content-Type"] == MSGPACK:
        return msgspec.msgpack.decode(response.content)["error"]
    return response.json()["error"]


@pytest.fixture(autouse=True)
def still_serving(base_url):
    """After every bad request, the server still answers a good call."""
    yield
    response = post(base_url, "/invoke/wire-component/wire-test/hello", b'{"args": ["ok"]}')
    assert response.status_code == 200 and response.json() == {"result": "ok"}


def test_good_call_json(base_url):
    """A well-formed JSON call answers 200 with {"result": ...}."""
    response = post(
        base_url, "/invoke/wire-component/wire-test/hello", b'{"args": [], "kwargs": {"message": "hi"}}'
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert response.json() == {"result": "hi"}


def test_good_call_msgpack(base_url):
    """A well-formed MessagePack call answers in MessagePack."""
    body = msgspec.msgpack.encode({"args": ["hi"], "kwargs": {}})
    response = post(base_url, "/invoke/wire-component/wire-test/hello", body, MSGPACK)
    assert response.status_code == 200
    assert msgspec.msgpack.decode(response.content) == {"result": "hi"}


@pytest.mark.parametrize(
    ("body", "content_type", "kind", "message"),
    [
        pytest.param(b'{"args": ["unterminated', JSON, "malformed",
                     "application/json body: malformed JSON", id="bad-json"),
        pytest.param(b"\xc1\xff\x00", MSGPACK, "malformed",
                     "application/msgpack body: malformed MessagePack: the reserved byte 0xc1 at byte 0",
                     id="bad-msgpack"),
        pytest.param(b'{"args": "not a list"}', JSON, "bad-shape",
                     "application/json body is not a call: 'args' must be an array", id="args-not-list"),
        pytest.param(b'{"args": [], "surprise": 1}', JSON, "bad-shape",
                     "application/json body is not a call: unknown key 'surprise'", id="unknown-field"),
        pytest.param(b'{"args": ["a", "b"]}', JSON, "signature",
                     "hello() takes 1 positional argument(s) but 2 were given", id="too-many"),
        pytest.param(b'{"args": []}', JSON, "signature", "hello() is missing the argument(s) 'message'",
                     id="missing"),
        pytest.param(b'{"kwargs": {"nope": 1}}', JSON, "signature",
                     "hello() got an unexpected keyword argument 'nope'", id="unknown-kwarg"),
        pytest.param(b'{"args": [42]}', JSON, "wrong-type",
                     "argument 'message': value does not fit the declared type at `message`",
                     id="wrong-type"),
        pytest.param(b'{"args": [' + b"[" * 20_000 + b"]" * 20_000 + b"]}", JSON, "too-deep",
                     "application/json body: nested deeper than the decoder follows", id="deep-json"),
        pytest.param(b"\x81\xa4args\x91" + b"\x91" * 20_000 + b"\xc0", MSGPACK, "too-deep",
                     "application/msgpack body: nested deeper than the decoder follows", id="deep-msgpack"),
        pytest.param(b'{"args": ["\xff\xfe"]}', JSON, "invalid-utf8",
                     "argument 'message': invalid UTF-8 at byte 1 of the argument", id="bad-utf8"),
        pytest.param(b'{"args": [1e400]}', JSON, "number-out-of-range",
                     "argument 'message': number out of range: 1e400", id="huge-number"),
        pytest.param(b'{"args": [NaN]}', JSON, "malformed",
                     "application/json body: malformed JSON: NaN is not a JSON number", id="nan"),
    ],
)  # fmt: skip
def test_bad_bodies_answer_400(base_url, implementation, body, content_type, kind, message):
    """Undecodable or ill-typed bodies answer 400 in servicewire's words, with a kind, and execute nothing."""
    before = list(implementation.executed)
    response = post(base_url, "/invoke/wire-component/wire-test/hello", body, content_type)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "BadRequest"
    assert error["kind"] == kind
    assert error["message"].startswith(message), error["message"]
    assert implementation.executed == before


def test_errors_other_than_400_carry_no_kind(base_url):
    """``kind`` is additive: only a body that does not decode sends one."""
    response = post(base_url, "/invoke/wire-component/wire-test/nothing-here", b"{}")
    assert response.status_code == 404
    assert "kind" not in error_of(response)


def test_wrong_type_deep_in_payload_names_field_path(base_url):
    """A bad field deep in a nested payload is named by its path from the parameter."""
    from .services import make_payload

    data = msgspec.to_builtins(make_payload())
    data["children"][3]["children"][1]["float_list_attr"][2] = "x"
    response = post(base_url, "/invoke/wire-component/wire-test/echo", json.dumps({"args": [data]}).encode())
    assert response.status_code == 400
    error = error_of(response)
    assert error["kind"] == "wrong-type"
    path = "data.children[3].children[1].float_list_attr[2]"
    assert error["message"].startswith(f"argument 'data': value does not fit the declared type at `{path}`")


def test_unknown_content_type_answers_415(base_url, implementation):
    """A content type without a codec answers 415, listing the supported ones."""
    before = list(implementation.executed)
    response = post(base_url, "/invoke/wire-component/wire-test/hello", b"message=hi", "text/plain")
    assert response.status_code == 415
    error = error_of(response)
    assert error["type"] == "UnsupportedMediaType"
    assert "application/json" in error["message"] and "application/msgpack" in error["message"]
    assert implementation.executed == before


@pytest.mark.parametrize(
    "path",
    [
        "/invoke/no-such-component/wire-test/hello",
        "/invoke/wire-component/no-such-service/hello",
        "/invoke/wire-component/wire-test/no_such_method",
        "/invoke/wire-component/wire-test/_record",
        "/invoke/wire-component/wire-test/__class__",
        "/invoke/wire-component/wire-test/__init__",
        "/invoke/wire-component/wire-test/secret",
        "/invoke/wire-component/wire-test/hello/extra",
    ],
    ids=[
        "component",
        "service",
        "method",
        "private",
        "dunder-class",
        "dunder-init",
        "implementation-only",
        "extra-segment",
    ],
)
def test_names_outside_the_interface_answer_404(base_url, implementation, path):
    """Unknown names and anything not a public interface method answer 404; nothing runs."""
    before = list(implementation.executed)
    response = post(base_url, path, b'{"args": ["x"]}')
    assert response.status_code == 404
    assert error_of(response)["type"] == "NotFound"
    assert implementation.executed == before
    assert "secret" not in implementation.executed


def test_body_over_the_limit_answers_413(base_url, implementation):
    """A body over the configured limit (64 KiB here) answers 413 and runs nothing."""
    before = list(implementation.executed)
    body = json.dumps({"args": ["x" * (70 * 1024)]}).encode()
    response = post(base_url, "/invoke/wire-component/wire-test/hello", body)
    assert response.status_code == 413
    assert error_of(response)["type"] == "PayloadTooLarge"
    assert "65536 bytes" in error_of(response)["message"]
    assert implementation.executed == before


def test_implementation_exception_answers_500_without_its_message(base_url, caplog):
    """An unexpected exception answers 500 with its type and an error id; the server logs the rest."""
    with caplog.at_level(logging.ERROR, logger="servicewire.server"):
        response = post(base_url, "/invoke/wire-component/wire-test/crash", b'{"args": []}')
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "builtins.ValueError"
    assert "crashed on purpose" not in response.text
    assert error["message"] == f"internal error; the server logged it with error id {error['id']}"
    logged = [r for r in caplog.records if error["id"] in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and "crashed on purpose" in str(logged[0].exc_info[1])


def test_get_on_a_method_answers_405(base_url):
    """Service methods are called with POST only."""
    response = requests.get(
        f"{base_url}/invoke/wire-component/wire-test/hello", headers={"Content-Type": JSON}, timeout=10
    )
    assert response.status_code == 405


def test_health_document(base_url):
    """GET /health/{component} answers the component's health: to an anonymous caller, its status only."""
    response = requests.get(f"{base_url}/health/wire-component", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"component": "wire-component", "status": "OK"}


def test_report_needs_an_authenticated_caller_by_default(base_url):
    """GET /report is not for anonymous callers unless auth.expose.report says open."""
    response = requests.get(f"{base_url}/report", timeout=10)
    assert response.status_code == 401
    assert "auth.expose.report" in error_of(response)["message"]


def test_report_lists_hosted_components(open_report_url):
    """GET /report lists what is hosted, as plain text."""
    response = requests.get(f"{open_report_url}/report", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "component wire-component" in response.text
    assert "hello(self, message: 'str') -> 'str'" in response.text
