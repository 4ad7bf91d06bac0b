"""Authentication and authorization over real HTTP servers and in process.

The ledger service's rules: ``whoami`` takes the default (authenticated callers), ``close_books``
is ``@allow("role:admin")``, ``ping`` is ``@allow("anyone")``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dependency_injector import providers

from channels.http import HttpServer
from container import (
    ConfigurationException,
    PermissionDeniedException,
    ServiceContainer,
    ServiceManager,
    UnauthenticatedException,
    token_digest,
)

from .ledger import LedgerContainer, LedgerService

ALICE = "alice-token-5f1c"
ROOT = "root-token-9a2e"
TOKENS = {
    ALICE: {"subject": "alice", "roles": ["clerk"]},
    token_digest(ROOT): {"subject": "root", "roles": ["admin"]},  # config may hold digests only
}


def boot(config: dict[str, Any], tls: dict[str, Any] | None = None) -> HttpServer:
    server = HttpServer(host="127.0.0.1", port=0, tls=tls)
    container = LedgerContainer()
    container.config.from_dict({"registry": {"type": "static"}, **config})
    server.boot(container)
    return server


def client(url: str, **config: Any) -> ServiceManager:
    registry = {"type": "static", "components": {"ledger-component": {"dispatch-msgpack": [url]}}}
    container = ServiceContainer(config=providers.Object({"registry": registry, **config}))
    return container.service_manager()


def ledger(manager: ServiceManager) -> LedgerService:
    return manager.get_service(LedgerService, preferred_channel="dispatch-msgpack")


@pytest.fixture(scope="module")
def bearer_server() -> Iterator[HttpServer]:
    server = boot({"auth": {"bearer": {"tokens": TOKENS}}})
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def url(bearer_server: HttpServer) -> str:
    return f"http://127.0.0.1:{bearer_server.port}"


@pytest.fixture()
def as_alice(url: str) -> Iterator[LedgerService]:
    manager = client(url, auth={"credentials": {"token": ALICE}})
    yield ledger(manager)
    manager.close()


def test_the_implementation_sees_the_callers_identity(as_alice):
    assert as_alice.whoami() == "alice bearer clerk"


def test_no_credential_is_401_with_a_documented_exception(url):
    manager = client(url)
    try:
        with pytest.raises(UnauthenticatedException, match="needs an authenticated caller") as info:
            ledger(manager).whoami()
        assert info.value.status == 401
        assert ledger(manager).ping() == "pong"  # @allow("anyone")
    finally:
        manager.close()


def test_a_wrong_token_is_401(url):
    manager = client(url, auth={"credentials": {"token": "guessed"}})
    try:
        with pytest.raises(UnauthenticatedException, match="not valid"):
            ledger(manager).whoami()
    finally:
        manager.close()


def test_a_caller_without_the_role_is_403(as_alice):
    with pytest.raises(PermissionDeniedException, match="alice may not call") as info:
        as_alice.close_books()
    assert info.value.status == 403


def test_a_token_named_by_its_digest_in_config_works(url):
    manager = client(url, auth={"credentials": {"token": ROOT}})
    try:
        assert ledger(manager).close_books() == "closed"
        assert ledger(manager).whoami() == "root bearer admin"
    finally:
        manager.close()


def test_raw_http_answers_401_and_403(url):
    path = f"{url}/invoke/ledger-component/ledger/close_books"
    headers = {"Content-Type": "application/json"}
    assert requests.post(path, data=b'{"args": []}', headers=headers, timeout=10).status_code == 401
    headers["Authorization"] = f"Bearer {ALICE}"
    assert requests.post(path, data=b'{"args": []}', headers=headers, timeout=10).status_code == 403


def test_config_rules_win_over_decorators_and_components_have_rules():
    server = boot(
        {
            "auth": {"bearer": {"tokens": TOKENS}},
            "components": {
                "ledger-component": {
                    "allow": ["role:clerk"],
                    "methods": {"ledger.close_books": {"allow": ["subject:alice"]}},
                }
            },
        }
    )
    try:
        url = f"http://127.0.0.1:{server.port}"
        alice = client(url, auth={"credentials": {"token": ALICE}})
        root = client(url, auth={"credentials": {"token": ROOT}})
        try:
            assert ledger(alice).close_books() == "closed"  # config's method rule over @allow
            with pytest.raises(PermissionDeniedException):
                ledger(root).close_books()
            with pytest.raises(PermissionDeniedException):
                ledger(root).whoami()  # the component's rule: clerks only
            assert ledger(root).ping() == "pong"  # the method's decorator over the component's rule
        finally:
            alice.close()
            root.close()
    finally:
        server.shutdown()


def test_a_refreshing_credential_provider_is_called_per_call(url):
    issued: list[str] = []

    def provider() -> str:
        issued.append(ALICE)
        return ALICE

    container = ServiceContainer(
        config=providers.Object(
            {"registry": {"type": "static", "components": {"ledger-component": {"dispatch-msgpack": [url]}}}}
        ),
        extensions=providers.Dict({"auth.credentials": provider}),
    )
    manager = container.service_manager()
    try:
        assert ledger(manager).whoami() == "alice bearer clerk"
        assert ledger(manager).whoami() == "alice bearer clerk"
        assert len(issued) == 2
    finally:
        manager.close()


def test_rules_hold_in_process_on_the_local_channel(bearer_server):
    """A proxy on the local channel runs the same pipeline: the same rules, the same exceptions."""
    assert bearer_server.manager is not None
    registry = {
        "type": "static",
        "components": {"ledger-component": {"local": [bearer_server.manager.local_uri]}},
    }
    for token, expected in ((ALICE, "alice bearer clerk"), (None, None)):
        auth = {"credentials": {"token": token}} if token else {}
        config = providers.Object({"registry": registry, "auth": auth})
        runtime = providers.Object(bearer_server.manager.runtime)  # its in-process addresses
        manager = ServiceContainer(config=config, runtime=runtime).service_manager()
        try:
            local = manager.get_service(LedgerService, preferred_channel="local")
            if expected is None:
                with pytest.raises(UnauthenticatedException):
                    local.whoami()
                continue
            assert local.whoami() == expected
            with pytest.raises(PermissionDeniedException):
                local.close_books()
        finally:
            manager.close()


def test_the_local_shortcut_is_trusted_code_and_the_local_channel_is_guarded(bearer_server):
    """get_service(T, "local") of a hosted service is the implementation itself: no guard runs.

    It is the object the container provides, as ``container.ledger_impl()`` is: code of the
    same process, trusted. A call meant to pass the rules in process goes through the local
    channel (``manager.proxy(T, "local")``), where the guard runs as on every channel.
    """
    manager = bearer_server.manager
    assert manager is not None
    shortcut = manager.get_service(LedgerService, "local")
    assert shortcut is bearer_server.container.ledger_impl()
    assert shortcut.close_books() == "closed", "an admin-only method runs: the caller is this process"
    assert bearer_server.container.ledger() is shortcut, "injection gives the same object"
    guarded = manager.proxy(LedgerService, "local")
    with pytest.raises(UnauthenticatedException):
        guarded.close_books()
    assert guarded.ping() == "pong"


def test_a_rule_that_nobody_could_pass_without_an_authenticator_is_refused_at_boot():
    with pytest.raises(ConfigurationException, match="no authenticator is configured"):
        boot({})  # close_books is @allow("role:admin") but nothing can authenticate anyone


@pytest.mark.parametrize(
    ("auth", "fragment"),
    [
        ({"allow": ["role admin"]}, "is not a grant"),
        ({"allow": "anyone"}, "auth.allow"),
        ({"credentials": {"token": "a", "provider": "x:y"}}, "exactly one of token and provider"),
        ({"expose": {"report": "public"}}, "auth.expose"),
        ({"jwt": {"key": "k", "algorithms": ["none"], "audience": "ledger"}}, "auth.jwt.algorithms"),
        ({"jwt": {"key": "k", "algorithms": ["HS256"]}}, "auth.jwt.audience"),
    ],
)
def test_bad_auth_config_is_refused_with_the_key_named(auth, fragment):
    with pytest.raises(ConfigurationException, match=fragment):
        boot({"auth": {"bearer": {"tokens": TOKENS}, **auth}})


# the server's own endpoints


def test_report_needs_a_token_and_health_is_open(url):
    assert requests.get(f"{url}/report", timeout=10).status_code == 401
    answer = requests.get(f"{url}/report", headers={"Authorization": f"Bearer {ALICE}"}, timeout=10)
    assert answer.status_code == 200 and "ledger-component" in answer.text
    assert requests.get(f"{url}/health/ledger-component", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("exposure", "anonymous", "with_token"), [("off", 401, 404), ("authenticated", 401, 200)]
)
def test_health_exposure_is_configurable(exposure, anonymous, with_token):
    """Off: 404, and to a caller that is not authenticated 401 first, as everywhere with auth on."""
    server = boot({"auth": {"bearer": {"tokens": TOKENS}, "expose": {"health": exposure}}})
    try:
        url = f"http://127.0.0.1:{server.port}/health/ledger-component"
        assert requests.get(url, timeout=10).status_code == anonymous
        token = {"Authorization": f"Bearer {ALICE}"}
        assert requests.get(url, headers=token, timeout=10).status_code == with_token
    finally:
        server.shutdown()


# JWT


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def jwt_server(signing_key) -> Iterator[str]:
    public = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    server = boot(
        {"auth": {"jwt": {"key": public.decode(), "audience": "ledger", "issuer": "https://idp.test"}}}
    )
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


LEFT_OUT = object()
"""A claim value that leaves the claim out of the token."""


def token(signing_key, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "carol", "roles": ["admin"], "aud": "ledger", "iss": "https://idp.test", "exp": now + 60}
    payload = {name: value for name, value in {**body, **claims}.items() if value is not LEFT_OUT}
    return jwt.encode(payload, signing_key, algorithm="ES256")


def test_a_valid_jwt_identifies_the_caller_with_its_roles(jwt_server, signing_key):
    manager = client(jwt_server, auth={"credentials": {"token": token(signing_key)}})
    try:
        assert ledger(manager).whoami() == "carol jwt admin"
        assert ledger(manager).close_books() == "closed"
    finally:
        manager.close()


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "the JWT has expired"),
        ({"aud": "billing"}, "the JWT is not meant for the audience 'ledger'"),
        ({"iss": "https://evil.test"}, "the JWT's issuer is not 'https://idp.test'"),
        ({"nbf": int(time.time()) + 3600}, "the JWT is not valid yet (its nbf or iat is in the future)"),
        ({"sub": None}, "the JWT has no 'sub' claim"),
        ({"exp": LEFT_OUT}, "the JWT has no 'exp' claim"),
        ({"sub": 42}, "the JWT's 'sub' claim is not a name"),
        ({"iat": "yesterday"}, "the JWT's 'iat' claim is not a time"),
    ],
    ids=[
        "expired",
        "audience",
        "issuer",
        "not-yet",
        "no-subject",
        "no-exp",
        "sub-type",
        "iat-type",
    ],
)
def test_a_bad_jwt_is_401_saying_why(jwt_server, signing_key, claims, message):
    manager = client(jwt_server, auth={"credentials": {"token": token(signing_key, **claims)}})
    try:
        with pytest.raises(UnauthenticatedException) as info:
            ledger(manager).whoami()
        assert info.value.remote_message == message
    finally:
        manager.close()


def test_a_jwt_signed_by_another_key_is_401(jwt_server):
    other = ec.generate_private_key(ec.SECP256R1())
    manager = client(jwt_server, auth={"credentials": {"token": token(other)}})
    try:
        with pytest.raises(UnauthenticatedException) as info:
            ledger(manager).whoami()
        assert info.value.remote_message == "the JWT's signature does not verify with the configured key"
    finally:
        manager.close()


# mTLS identity


@pytest.mark.parametrize("engine", ["threads", "asyncio"])
def test_mtls_gives_the_certificate_subject_as_identity(tmp_path, engine):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    server_cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    ca.issue_cert("orders-service").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "orders.pem"))
    server = boot(
        {
            "auth": {"mtls": {"enabled": True, "roles": {"orders-service": ["admin"]}}},
            "http": {"server": engine},
        },
        tls={
            "certfile": str(tmp_path / "server.pem"),
            "keyfile": str(tmp_path / "server.key"),
            "client_ca": str(tmp_path / "ca.pem"),
        },
    )
    try:
        assert server.manager is not None
        offered = server.manager.component_registry.get_addresses(
            next(iter(server.manager.hosted_components()))
        )
        url = offered[0].urls[0]
        assert url.startswith("https://")  # the server registers https when TLS is on
        tls = {"verify": str(tmp_path / "ca.pem"), "cert": str(tmp_path / "orders.pem")}
        manager = client(url, http={"tls": tls})
        try:
            assert ledger(manager).whoami() == "orders-service mtls admin"
            assert ledger(manager).close_books() == "closed"
        finally:
            manager.close()
    finally:
        server.shutdown()
