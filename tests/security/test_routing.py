"""Strict routing of request targets: nothing is decoded or normalised before it is routed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from channels.http import HttpServer
from tests.channels.conftest import ServerContainer

CALL = b'{"args": ["x"]}'


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = HttpServer("127.0.0.1", 0)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    yield server.port
    server.shutdown()


def exchange(port: int, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send one raw request; return status, headers (lowercase names) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head_part, found, rest = data.partition(b"\r\n\r\n")
            if found:
                lines = head_part.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
                }
                if len(rest) >= int(headers.get("content-length", "0")):
                    return int(lines[0].split()[1]), headers, rest
    raise AssertionError(f"no answer: {data!r}")


def post(target: str, body: bytes = CALL) -> str:
    return (
        f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )


def test_the_plain_target_is_called(port):
    status, _, body = exchange(port, post("/invoke/wire-component/wire-test/hello"), CALL)
    assert status == 200 and json.loads(body) == {"result": "x"}


@pytest.mark.parametrize(
    "target",
    [
        "/invoke/wire-component%2fwire-test/hello",
        "/invoke/wire-component/wire-test%2Fhello",
        "//invoke/wire-component/wire-test/hello",
        "/invoke//wire-component/wire-test/hello",
        "/invoke/wire-component/./wire-test/hello",
        "/invoke/wire-component/../wire-component/wire-test/hello",
        "http://127.0.0.1/invoke/wire-component/wire-test/hello",
        "*",
    ],
)
def test_encoded_doubled_dotted_and_absolute_targets_answer_400(port, target):
    status, _, body = exchange(port, post(target), CALL)
    assert status == 400, (target, body)


def test_options_answers_204_with_allow(port):
    head = "OPTIONS /invoke/wire-component/wire-test/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, headers, _ = exchange(port, head)
    assert status == 204 and headers["allow"] == "POST, OPTIONS"


def test_head_of_a_health_document_has_no_body(port):
    head = "HEAD /health/wire-component HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    assert b" 200 " in status_line
    assert rest.endswith(b"\r\n\r\n")  # head only
    assert b"content-length: 0" not in rest.lower()  # the length a GET would get


def test_a_get_on_a_method_without_content_type_is_405_not_415(port):
    head = "GET /invoke/wire-component/wire-test/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, headers, _ = exchange(port, head)
    assert status == 405 and headers["allow"] == "POST, OPTIONS"


def test_debug_mode_says_so_loudly_when_the_server_starts(caplog):
    import logging

    server = HttpServer("127.0.0.1", 0, debug=True)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    with caplog.at_level(logging.WARNING, logger="servicewire"):
        server.boot(container)
    server.shutdown()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(message.startswith("DEBUG MODE") and "never use it" in message for message in warnings)
