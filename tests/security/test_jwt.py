"""JWTs that do not fit the configured key, the audience rule, and JWTs beside bearer tokens.

Every refusal is checked over a real HTTP server: a 401 with servicewire's reason, nothing
logged at ERROR and no traceback, whatever the token holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.http import HttpServer
from container import ConfigurationException, UnauthenticatedException

from .test_auth import boot, client, ledger

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
OPAQUE = "opaque-token-7c1d"


def claims(**changes: Any) -> dict[str, Any]:
    body = {"sub": "carol", "roles": ["admin"], "aud": "ledger", "exp": int(time.time()) + 60}
    body.update(changes)
    return {name: value for name, value in body.items() if value is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with(secret: bytes, body: dict[str, Any]) -> str:
    """An HS256 token made by hand: PyJWT refuses to use a PEM key as an HMAC secret."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(body).encode())
    signature = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(signature)}"


def rs256_by_hand(payload: bytes) -> str:
    """A token correctly signed with the RSA key whose claims are not a JSON object."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = b64(b'{"alg": "RS256"}') + "." + b64(payload)
    return f"{signed}.{b64(RSA_KEY.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def refusal(base: str, token: str) -> tuple[int, str]:
    """POST an anonymous-rule method with ``token``; return the status and the envelope's message."""
    answer = requests.post(
        f"{base}/invoke/ledger-component/ledger/whoami",
        data=b'{"args": []}',
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    message = answer.json()["error"]["message"] if answer.status_code != 200 else answer.json()["result"]
    return answer.status_code, message


@pytest.fixture(scope="module")
def rsa_server() -> Iterator[str]:
    """A server verifying JWTs with an RSA public key, HS256 allowed beside the asymmetric ones."""
    server = boot(
        {
            "auth": {
                "jwt": {
                    "key": RSA_PUBLIC_PEM,
                    "algorithms": ["RS256", "ES256", "EdDSA", "HS256"],
                    "audience": "ledger",
                }
            }
        }
    )
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def test_a_token_the_key_cannot_verify_is_401_with_the_reason_and_no_traceback(rsa_server, caplog):
    """ES256, EdDSA and HS256 (signed with the RSA public key's PEM: the algorithm confusion
    attack) against an RSA key: 401 saying which algorithm, nothing logged at ERROR."""
    ec_token = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    ed_token = jwt.encode(claims(), ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA")
    confused = hs256_with(RSA_PUBLIC_PEM.encode(), claims())
    with caplog.at_level(logging.INFO):
        for token, algorithm in ((ec_token, "ES256"), (ed_token, "EdDSA"), (confused, "HS256")):
            for _ in range(3):
                assert refusal(rsa_server, token) == (
                    401,
                    f"the JWT is signed with {algorithm}, "
                    "which the configured key (an RSA key) cannot verify",
                )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text
    good = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert refusal(rsa_server, good) == (200, "carol jwt admin")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("a.b.c", "the JWT is malformed"),
        (b64(b'{"alg": ["RS256"]}') + "." + b64(b"{}") + ".c2ln", "the JWT is malformed"),
        (
            b64(b'{"alg": "RS256"}') + "." + b64(b'{"sub": "x"}') + ".",
            "the JWT's signature does not verify with the configured key",
        ),
        (
            b64(b'{"alg": "none"}') + "." + b64(b'{"sub": "x"}') + ".c2ln",
            "the JWT is signed with an algorithm that is not allowed (allowed: RS256, ES256, EdDSA, HS256)",
        ),
        (
            b64(b'{"alg": "PS512"}') + "." + b64(b'{"sub": "x"}') + ".c2ln",
            "the JWT is signed with an algorithm that is not allowed (allowed: RS256, ES256, EdDSA, HS256)",
        ),
        (rs256_by_hand(b"[1, 2]"), "the JWT is malformed"),
    ],
    ids=[
        "not-base64-json",
        "alg-not-a-string",
        "empty-signature",
        "alg-none",
        "alg-not-allowed",
        "claims-not-an-object",
    ],
)
def test_malformed_jwts_are_401_with_the_reason(rsa_server, caplog, token, message):
    with caplog.at_level(logging.INFO):
        assert refusal(rsa_server, token) == (401, message)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


@settings(max_examples=150, deadline=None)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "crit", "b64"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=8)
        | st.sampled_from(["RS256", "ES256", "EdDSA", "HS256", "none", "PS256"])
        | st.lists(st.text(max_size=4), max_size=2),
    ),
    body=st.dictionaries(st.text(max_size=6), st.none() | st.integers() | st.text(max_size=8), max_size=4),
    signature=st.binary(max_size=80),
)
def test_no_token_makes_the_authenticator_raise_anything_but_a_refusal(header, body, signature):
    """Random headers, claims and signatures: an identity or AuthenticationFailed, nothing else."""
    from container import AuthenticationFailed
    from container.plugin import CallContext
    from container.security._jwt import JwtAuthenticator

    authenticator = JwtAuthenticator(RSA_PUBLIC_PEM, ["RS256", "ES256", "EdDSA", "HS256"], "ledger")
    token = ".".join((b64(json.dumps(header).encode()), b64(json.dumps(body).encode()), b64(signature)))
    context = CallContext({"authorization": f"Bearer {token}"})
    try:
        authenticator.authenticate(context)
    except AuthenticationFailed as exc:
        assert str(exc).startswith("the JWT")


# the audience


def test_jwt_without_an_audience_is_refused_when_the_container_is_created():
    with pytest.raises(ConfigurationException, match="config key 'auth.jwt.audience' is required"):
        boot({"auth": {"jwt": {"key": RSA_PUBLIC_PEM}}})


def test_an_audience_and_verify_audience_false_together_are_refused():
    with pytest.raises(ConfigurationException, match="auth.jwt.verify_audience"):
        boot({"auth": {"jwt": {"key": RSA_PUBLIC_PEM, "audience": "ledger", "verify_audience": False}}})


def test_a_key_no_configured_algorithm_can_use_is_refused_at_boot():
    with pytest.raises(ConfigurationException, match="config key 'auth.jwt.key'.*ES256"):
        boot({"auth": {"jwt": {"key": RSA_PUBLIC_PEM, "algorithms": ["ES256"], "audience": "ledger"}}})


def test_a_token_for_another_service_or_for_none_is_refused(rsa_server):
    other = jwt.encode(claims(aud="billing"), RSA_KEY, algorithm="RS256")
    assert refusal(rsa_server, other) == (401, "the JWT is not meant for the audience 'ledger'")
    unaddressed = jwt.encode(claims(aud=None), RSA_KEY, algorithm="RS256")
    assert refusal(rsa_server, unaddressed) == (401, "the JWT has no 'aud' claim")


def test_verify_audience_false_accepts_tokens_for_any_audience():
    server = boot({"auth": {"jwt": {"key": RSA_PUBLIC_PEM, "verify_audience": False}}})
    try:
        base = f"http://127.0.0.1:{server.port}"
        for audience in ("billing", None):
            token = jwt.encode(claims(aud=audience), RSA_KEY, algorithm="RS256")
            assert refusal(base, token) == (200, "carol jwt admin")
    finally:
        server.shutdown()


def test_one_of_several_audiences_is_enough():
    server = boot({"auth": {"jwt": {"key": RSA_PUBLIC_PEM, "audience": ["ledger", "ledger-v2"]}}})
    try:
        base = f"http://127.0.0.1:{server.port}"
        token = jwt.encode(claims(aud="ledger-v2"), RSA_KEY, algorithm="RS256")
        assert refusal(base, token) == (200, "carol jwt admin")
        other = jwt.encode(claims(aud="billing"), RSA_KEY, algorithm="RS256")
        assert refusal(base, other) == (401, "the JWT is not meant for the audience 'ledger' or 'ledger-v2'")
    finally:
        server.shutdown()


# bearer tokens and JWTs on one server


@pytest.fixture(scope="module")
def mixed_server() -> Iterator[HttpServer]:
    server = boot(
        {
            "auth": {
                "bearer": {"tokens": {OPAQUE: {"subject": "dave", "roles": ["clerk"]}}},
                "jwt": {"key": RSA_PUBLIC_PEM, "audience": "ledger"},
            }
        }
    )
    yield server
    server.shutdown()


def test_bearer_tokens_and_jwts_both_identify_callers(mixed_server):
    base = f"http://127.0.0.1:{mixed_server.port}"
    assert refusal(base, OPAQUE) == (200, "dave bearer clerk")
    assert refusal(base, jwt.encode(claims(), RSA_KEY, algorithm="RS256")) == (200, "carol jwt admin")


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (
            lambda: jwt.encode(claims(exp=int(time.time()) - 3600), RSA_KEY, algorithm="RS256"),
            "the JWT has expired",
        ),
        (
            lambda: jwt.encode(claims(aud="billing"), RSA_KEY, algorithm="RS256"),
            "the JWT is not meant for the audience 'ledger'",
        ),
        (lambda: rs256_by_hand(b"not json"), "the JWT is malformed"),
        (lambda: "not.a.jwt", "the bearer token is not valid"),
        (lambda: "guessed-token", "the bearer token is not valid"),
    ],
    ids=["expired-jwt", "other-audience", "malformed-jwt", "dotted-opaque-token", "unknown-opaque-token"],
)
def test_a_refused_credential_gets_the_most_specific_reason(mixed_server, make_token, message):
    """The JWT's own reason when the token is a JWT; the bearer tokens' when nobody knows it."""
    token = make_token()  # made now: a token made when the tests are collected may expire before
    manager = client(f"http://127.0.0.1:{mixed_server.port}", auth={"credentials": {"token": token}})
    try:
        with pytest.raises(UnauthenticatedException) as info:
            ledger(manager).whoami()
        assert info.value.remote_message == message
    finally:
        manager.close()
