"""What /health/<component> tells whom: the status to anyone, the details to authenticated callers.

The vault component's failing check raises with a database URL holding a password and a path
under /srv (tests/security/vault.py). Over a real HTTP server: an anonymous caller reads the
status only; a caller with a valid token reads every check, the URL's password redacted; the
log has the details (redacted) once per change; ``auth.expose.health_details`` decides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from channels.http import HttpServer

from .vault import SECRET, VaultContainer

TOKEN = "ops-token-2b7e"
HEALTH = "/health/vault-component"


def boot(auth: dict[str, Any]) -> tuple[HttpServer, VaultContainer]:
    server = HttpServer(host="127.0.0.1", port=0)
    container = VaultContainer()
    container.config.from_dict({"registry": {"type": "static"}, "auth": auth})
    server.boot(container)
    container.checks().failing = True
    return server, container


def health(server: HttpServer, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"http://127.0.0.1:{server.port}{HEALTH}", headers=headers, timeout=10)


@pytest.fixture()
def guarded() -> Iterator[tuple[HttpServer, VaultContainer]]:
    server, container = boot({"bearer": {"tokens": {TOKEN: {"subject": "ops"}}}})
    yield server, container
    server.shutdown()


def test_an_anonymous_caller_reads_the_status_only(guarded):
    server, _ = guarded
    answer = health(server)
    assert answer.status_code == 503
    assert answer.json() == {"component": "vault-component", "status": "ERROR"}
    assert SECRET not in answer.text and "/srv/" not in answer.text and "postgres" not in answer.text


def test_an_authenticated_caller_reads_every_check_with_credentials_redacted(guarded):
    server, _ = guarded
    answer = health(server, TOKEN)
    assert answer.status_code == 503
    document = answer.json()
    assert document["component_status"] == "running"
    [check] = document["checks"]
    assert check["name"] == "database" and check["status"] == "ERROR"
    assert check["details"] == (
        "ConnectionError: cannot connect to postgres://***@db.internal:5432/vault (config /srv/vault/db.conf)"
    )
    assert SECRET not in answer.text


def test_a_credential_that_is_not_valid_is_401(guarded):
    server, _ = guarded
    answer = health(server, "guessed")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == "the bearer token is not valid"


def test_the_details_are_logged_once_per_change_with_credentials_redacted(guarded, caplog):
    server, container = guarded
    with caplog.at_level(logging.INFO, logger="servicewire.server"):
        for _ in range(3):
            assert health(server).status_code == 503
        container.checks().failing = False
        assert health(server).status_code == 200
        assert health(server).status_code == 200
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "servicewire.server"]
    assert lines == [
        (
            "WARNING",
            "vault-component health is ERROR: database: ConnectionError: cannot connect to "
            "postgres://***@db.internal:5432/vault (config /srv/vault/db.conf)",
        ),
        ("INFO", "vault-component is healthy again"),
    ]
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("auth", "anonymous_details", "token_details"),
    [
        ({}, False, False),  # no authenticator: nobody is authenticated, the details are in the log
        ({"expose": {"health_details": "open"}}, True, True),  # explicitly open to everyone
        (
            {"bearer": {"tokens": {TOKEN: {"subject": "ops"}}}, "expose": {"health_details": "off"}},
            False,
            False,
        ),
        (
            {"bearer": {"tokens": {TOKEN: {"subject": "ops"}}}, "expose": {"health_details": "open"}},
            True,
            True,
        ),
    ],
    ids=["no-authenticator", "open-without-authenticator", "off", "open-with-authenticator"],
)
def test_health_details_exposure_is_configurable(auth, anonymous_details, token_details):
    server, _ = boot(auth)
    try:
        for token, details in ((None, anonymous_details), (TOKEN, token_details)):
            answer = health(server, token)
            assert answer.status_code == 503
            assert ("checks" in answer.json()) is details, (token, answer.text)
            assert SECRET not in answer.text
    finally:
        server.shutdown()


def test_a_bad_health_details_setting_is_refused_naming_the_key():
    from container import ConfigurationException

    with pytest.raises(ConfigurationException, match="auth.expose"):
        boot({"expose": {"health_details": "everyone"}})
