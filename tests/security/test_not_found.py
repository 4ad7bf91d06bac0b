"""401 before 404: with authentication on, a caller that is not authenticated cannot list what exists.

Run on real sockets against the embedded server and against the WSGI application under
gunicorn: every target an anonymous caller tries (a hosted method, a method, service or
component that is not hosted, a GET on either, an endpoint that is off, any other path, a
zero deadline, ``Expect: 100-continue``) answers alike, 401 in the same words; an authenticated
caller still gets 404 (and 405) where they apply. Without authentication, 404 as before.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.http import HttpServer
from container.testing import free_port
from tests.e2e.wire_server import WireServerContainer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ops-token-6d0a"
CONFIG = {"registry": {"type": "static"}, "auth": {"bearer": {"tokens": {TOKEN: {"subject": "ops"}}}}}
HOSTED = "wire-component/wire-test/hello"
NOT_HOSTED = [
    "wire-component/wire-test/missing",
    "wire-component/ledger/hello",
    "billing-component/wire-test/hello",
]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def embedded() -> Iterator[str]:
    server = HttpServer(host="127.0.0.1", port=0)
    container = WireServerContainer()
    container.config.from_dict(CONFIG)
    server.boot(container)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.fixture(scope="module")
def gunicorn() -> Iterator[str]:
    port = free_port()
    app = f'channels.http.wsgi:create_app("tests.e2e.wire_server:from_environment", port={port})'
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--threads", "2", app],
        cwd=ROOT,
        env={**os.environ, "WIRE_CONFIG": json.dumps(CONFIG)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/health/wire-component", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not serve"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(params=["embedded", "gunicorn"])
def base(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def answer(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["message"]


def call(base: str, path: str, token: str | None = None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(
        f"{base}/invoke/{path}", data=b'{"args": ["hi"]}', headers={**JSON, **headers}, timeout=10
    )


def test_an_anonymous_caller_gets_the_same_401_for_what_is_hosted_and_what_is_not(base):
    for path in (HOSTED, *NOT_HOSTED):
        assert answer(call(base, path)) == (401, "Unauthenticated", f"{path} needs an authenticated caller")
        got = requests.get(f"{base}/invoke/{path}", timeout=10)  # 405 for a hosted method, 404 otherwise
        assert answer(got) == (401, "Unauthenticated", f"{path} needs an authenticated caller")


def test_a_zero_deadline_tells_nothing_either(base):
    """A hosted method answers 504 before the guard runs: so does a method that is not hosted."""
    for path in (HOSTED, *NOT_HOSTED):
        assert call(base, path, **{"sw-timeout-ms": "0"}).status_code == 504


def test_a_credential_that_is_not_valid_gets_its_reason_before_any_404(base):
    for path in (HOSTED, *NOT_HOSTED):
        assert answer(call(base, path, "guessed")) == (
            401,
            "Unauthenticated",
            "the bearer token is not valid",
        )


@pytest.mark.parametrize(
    "path",
    [
        "/nothing",
        "/invoke/too/short",
        "/dashboard",
        "/describe/billing-component",
        "/health/billing-component",
    ],
)
def test_other_paths_are_401_to_an_anonymous_caller_and_404_to_an_authenticated_one(base, path):
    anonymous = requests.get(f"{base}{path}", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"].endswith("needs an authenticated caller")
    known = requests.get(f"{base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert known.status_code == 404


def test_an_authenticated_caller_still_gets_404_and_405(base):
    for path in NOT_HOSTED:
        assert answer(call(base, path, TOKEN)) == (404, "NotFound", f"no service method at {path}")
    assert call(base, HOSTED, TOKEN).json() == {"result": "hi"}
    got = requests.get(f"{base}/invoke/{HOSTED}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert got.status_code == 405


def test_expect_100_continue_answers_401_before_404_too(embedded):
    """The embedded server routes and authenticates before it asks for the body."""
    port = int(embedded.rsplit(":", 1)[1])
    for path in (HOSTED, NOT_HOSTED[0]):
        head = (
            f"POST /invoke/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: 16\r\nExpect: 100-continue\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(head.encode())
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
        assert status_line == b"HTTP/1.1 401 Unauthorized", path


def test_without_authentication_a_missing_route_is_404(open_server):
    for path in NOT_HOSTED:
        assert answer(call(open_server, path)) == (404, "NotFound", f"no service method at {path}")
    assert requests.get(f"{open_server}/nothing", timeout=10).status_code == 404


@pytest.fixture(scope="module")
def open_server() -> Iterator[str]:
    server = HttpServer(host="127.0.0.1", port=0)
    container = WireServerContainer()
    config: dict[str, Any] = {"registry": {"type": "static"}}
    container.config.from_dict(config)
    server.boot(container)
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
