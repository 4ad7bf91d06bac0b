"""TLS contexts of the HTTP channels: the server's (with optional client certificates) and clients'.

Clients verify servers as requests does by default: with certifi's CA bundle, or the CA file or
folder given as ``verify``; both client transports (the pool and requests) verify with the same
files.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from requests.utils import DEFAULT_CA_BUNDLE_PATH

from container import ConfigurationException
from container.plugin import Settings

from ._settings import HttpSettings


def server_context(settings: Settings, override: Any = None) -> ssl.SSLContext | None:
    """Return the server's TLS context from ``http.tls`` (or ``override``), or None without a certificate.

    Raises:
        ConfigurationException: a file cannot be read, or the key does not match the certificate.
    """
    tls = settings.section("http", HttpSettings).tls
    if override is not None:
        # Validated as the http.tls section would be, so errors name the same keys.
        tls = Settings({"http": {"tls": override}}).section("http", HttpSettings).tls
    if not tls.certfile:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile, tls.password)
        if tls.client_ca:
            _load_ca(context, tls.client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationException(
            f"config key 'http.tls': cannot load the server's TLS files: {exc}"
        ) from exc
    mode = tls.client_certificates or ("required" if tls.client_ca else "none")
    context.verify_mode = {
        "none": ssl.CERT_NONE,
        "optional": ssl.CERT_OPTIONAL,
        "required": ssl.CERT_REQUIRED,
    }[mode]
    return context


def client_context(verify: Any, cert: Any) -> ssl.SSLContext:
    """Return the TLS context that requests would use for ``verify`` and ``cert``.

    ``verify``: True (certifi's CA bundle, as requests), False (no verification), or a path to
    a CA bundle file or a folder of hashed CA certificates. ``cert``: a path to a file holding
    the client certificate and key, or a (certificate, key) pair, or None.
    """
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=None)
        _load_ca(context, verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH)
    if isinstance(cert, str):
        context.load_cert_chain(cert)
    elif cert:
        context.load_cert_chain(cert[0], cert[1])
    return context


def _load_ca(context: ssl.SSLContext, where: str) -> None:
    if os.path.isdir(where):
        context.load_verify_locations(capath=where)
    else:
        context.load_verify_locations(cafile=where)
