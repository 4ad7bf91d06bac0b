"""Keep-alive HTTP/1.1 connections of one thread, on ``http.client``.

``requests`` spends most of a small call's client time in per-call machinery that a channel
does not use (adapter look-up, urllib3 pool and retry bookkeeping, cookie extraction, header
merging). When a session asks for nothing that needs that machinery (see
:func:`needs_requests`), the channel sends through these connections instead, still taking
its headers, auth, ``verify`` and ``cert`` from the session.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


def needs_requests(session: requests.Session) -> bool:
    """Return True when the session uses something only ``Session.send`` provides.

    That is: proxies (or proxies from the environment with ``trust_env``), response hooks,
    cookies, or a transport adapter other than a plain, non-retrying ``HTTPAdapter``.
    """
    if session.proxies or session.trust_env or session.cookies:
        return True
    if any(session.hooks.values()):
        return True
    for adapter in session.adapters.values():
        if type(adapter) is not HTTPAdapter or adapter.max_retries.total not in (0, None):
            return True
    return False


class ConnectError(Exception):
    """No connection could be made (wraps the OSError)."""


class ExchangeError(Exception):
    """The connection broke after the request was (perhaps partly) sent."""


class ConnectTimeout(Exception):
    """The connect limit ran out."""


class ReadTimeout(Exception):
    """The read limit ran out."""


class Connections:
    """One keep-alive connection per base URL, for one thread.

    Args:
        session: where TLS settings (``verify``, ``cert``) come from.
    """

    def __init__(self, session: requests.Session) -> None:
        self._session = session
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._prefixes: dict[str, str] = {}
        self._ssl_context: ssl.SSLContext | None = None

    def post(
        self,
        base: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        connect_timeout: float,
        read_timeout: float,
    ) -> tuple[int, bytes, str]:
        """POST ``body`` to ``base + path``; return (status, body, content type).

        Raises:
            ConnectError: no connection could be made; nothing was sent.
            ConnectTimeout: connecting took longer than ``connect_timeout``; nothing was sent.
            ExchangeError: the connection broke after the request was sent.
            ReadTimeout: the answer took longer than ``read_timeout``.
        """
        prefix = self._prefixes.get(base)
        if prefix is None:
            prefix = self._prefixes[base] = urlsplit(base).path.rstrip("/")
        reused = base in self._connections
        connection = self._connection(base, connect_timeout)
        try:
            self._send(connection, prefix + path, body, headers, read_timeout)
        except OSError as exc:
            self._drop(base)
            if not reused:
                raise ExchangeError(str(exc) or type(exc).__name__) from exc
            # The server closed an idle connection as we wrote to it, so it did not read the
            # request: send it once more on a new connection.
            connection = self._connection(base, connect_timeout)
            try:
                self._send(connection, prefix + path, body, headers, read_timeout)
            except OSError as again:
                self._drop(base)
                raise ExchangeError(str(again) or type(again).__name__) from again
        try:
            response = connection.getresponse()
            content = response.read()
        except TimeoutError as exc:
            self._drop(base)
            raise ReadTimeout(str(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop(base)
            raise ExchangeError(str(exc) or type(exc).__name__) from exc
        if response.will_close:
            self._drop(base)
        return response.status, content, response.getheader("Content-Type", "")

    @staticmethod
    def _send(
        connection: http.client.HTTPConnection,
        path: str,
        body: bytes,
        headers: dict[str, str],
        read_timeout: float,
    ) -> None:
        connection.sock.settimeout(read_timeout)  # type: ignore[union-attr]
        connection.request("POST", path, body, headers)

    def _connection(self, base: str, connect_timeout: float) -> http.client.HTTPConnection:
        connection = self._connections.get(base)
        if connection is not None and connection.sock is not None and not _dropped(connection.sock):
            return connection
        if connection is not None:
            connection.close()
        connection = self._open(base, connect_timeout)
        self._connections[base] = connection
        return connection

    def _open(self, base: str, connect_timeout: float) -> http.client.HTTPConnection:
        parts = urlsplit(base)
        host = parts.hostname or "127.0.0.1"
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                host, parts.port, timeout=connect_timeout, context=self._tls()
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=connect_timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            connection.close()
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            verify: Any = self._session.verify
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(verify, str):
                context = ssl.create_default_context(cafile=verify)
            else:
                context = ssl.create_default_context()
            cert: Any = self._session.cert
            if isinstance(cert, str):
                context.load_cert_chain(cert)
            elif cert:
                context.load_cert_chain(cert[0], cert[1])
            self._ssl_context = context
        return self._ssl_context

    def _drop(self, base: str) -> None:
        connection = self._connections.pop(base, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close every connection."""
        for base in list(self._connections):
            self._drop(base)


def _dropped(sock: socket.socket) -> bool:
    # An idle keep-alive socket that is readable was closed by the server (EOF) or has
    # stray bytes: either way it must not carry the next request (urllib3 does the same).
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
