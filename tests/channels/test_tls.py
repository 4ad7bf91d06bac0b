"""TLS and mutual TLS with certificates made at test time (trustme), on every client.

The pool (the default), requests (``http.client: requests``) and the pool's asyncio side (calls
of ``async def`` methods) verify the server the same way: certifi's bundle by default, or a CA
file or a folder given as ``http.tls.verify``; all present a client certificate from
``http.tls.cert`` (and ``key``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from dependency_injector import providers

from channels.http import HttpServer
from container import ServiceContainer, ServiceManager, ServiceUnavailableException

from .conftest import ServerContainer, wire, with_transport


class Certificates:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate, as files."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server_cert = folder / "server.pem"
        self.server_key = folder / "server.key"
        server.cert_chain_pems[0].write_to_path(str(self.server_cert))
        server.private_key_pem.write_to_path(str(self.server_key))
        client = self.ca.issue_cert("orders-service@example.test")
        self.client_pem = folder / "client.pem"  # certificate and key in one file
        client.private_key_and_cert_chain_pem.write_to_path(str(self.client_pem))
        stranger_ca = trustme.CA()
        stranger = stranger_ca.issue_cert("intruder@example.test")
        self.stranger_pem = folder / "stranger.pem"
        stranger.private_key_and_cert_chain_pem.write_to_path(str(self.stranger_pem))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("tls"))


def boot(tls: dict[str, object]) -> HttpServer:
    server = HttpServer(host="127.0.0.1", port=0, tls=tls)
    container = ServerContainer()
    container.config.from_dict({"registry": {"type": "static"}})
    server.boot(container)
    return server


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates) -> Iterator[HttpServer]:
    server = boot({"certfile": str(certificates.server_cert), "keyfile": str(certificates.server_key)})
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def mtls_server(certificates: Certificates) -> Iterator[HttpServer]:
    server = boot(
        {
            "certfile": str(certificates.server_cert),
            "keyfile": str(certificates.server_key),
            "client_ca": str(certificates.ca_file),
        }
    )
    yield server
    server.shutdown()


def client(port: int, transport: str, **tls: object) -> tuple[ServiceManager, str]:
    url = f"https://127.0.0.1:{port}"
    components = {name: {"dispatch-msgpack": [url]} for name in ("wire-component", "async-wire-component")}
    config = {
        "registry": {"type": "static", "components": components},
        "calls": {"timeout": 10},
        "http": {"tls": tls},
    }
    return ServiceContainer(
        config=providers.Object(with_transport(config, transport))
    ).service_manager(), transport


def call(client: tuple[ServiceManager, str], text: str = "over TLS") -> str:
    manager, transport = client
    try:
        return wire(manager, transport).hello(text)  # type: ignore[no-any-return]
    finally:
        manager.close()


def test_the_server_says_https(tls_server):
    assert tls_server.scheme == "https"


def test_a_call_verified_with_the_ca_file(tls_server, certificates, transport):
    assert call(client(tls_server.port, transport, verify=str(certificates.ca_file))) == "over TLS"


def test_a_call_verified_with_a_ca_folder(tls_server, certificates, transport, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("naming a CA folder's files needs the openssl command (c_rehash layout)")
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(certificates.ca_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shutil.copy(certificates.ca_file, tmp_path / f"{subject_hash}.0")
    assert call(client(tls_server.port, transport, verify=str(tmp_path))) == "over TLS"


def test_by_default_a_server_the_public_cas_do_not_vouch_for_is_refused(tls_server, transport):
    with pytest.raises(ServiceUnavailableException) as info:
        call(client(tls_server.port, transport))
    assert "the TLS handshake failed: the server's certificate is not trusted" in str(info.value)


def test_mtls_accepts_the_right_client_certificate(mtls_server, certificates, transport):
    manager = client(
        mtls_server.port, transport, verify=str(certificates.ca_file), cert=str(certificates.client_pem)
    )
    assert call(manager, "with my certificate") == "with my certificate"


@pytest.mark.parametrize("who", ["nobody", "stranger"])
def test_mtls_refuses_a_caller_without_a_trusted_certificate(mtls_server, certificates, transport, who):
    tls: dict[str, object] = {"verify": str(certificates.ca_file)}
    if who == "stranger":
        tls["cert"] = str(certificates.stranger_pem)
    refused = r"cannot reach https://\S+: the TLS handshake failed"
    with pytest.raises(ServiceUnavailableException, match=refused):
        call(client(mtls_server.port, transport, **tls))
    # The server keeps serving those it trusts.
    manager = client(
        mtls_server.port, transport, verify=str(certificates.ca_file), cert=str(certificates.client_pem)
    )
    assert call(manager, "still serving") == "still serving"


def test_a_server_certificate_that_cannot_be_read_is_a_configuration_error(tmp_path):
    from container import ConfigurationException

    with pytest.raises(ConfigurationException, match="http.tls"):
        boot({"certfile": str(tmp_path / "missing.pem"), "keyfile": str(tmp_path / "missing.key")})


def test_a_client_tls_file_that_cannot_be_read_is_a_configuration_error(tls_server, transport, tmp_path):
    """A missing CA file fails the first call: ConfigurationException naming http.tls (both transports)."""
    from container import ConfigurationException

    with pytest.raises(
        ConfigurationException, match=r"config key 'http\.tls': cannot load the client's TLS files"
    ):
        call(client(tls_server.port, transport, verify=str(tmp_path / "missing-ca.pem")))
