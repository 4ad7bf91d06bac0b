"""Reading a server's own endpoints (health, description, metrics) from the outside.

Operator tools (the ``servicewire`` command, the dashboard) ask every instance a registry lists
for ``/health/<component>``, ``/describe/<component>`` and ``/metrics``. :class:`HttpProbe`
does it with the client's TLS settings (``http.tls``: ``verify``, ``cert``, ``key``) and the
credentials of ``auth.credentials`` (or a token given to it), each GET bounded by a timeout.
Only ``http://`` and ``https://`` URLs can be probed: an in-process (``inproc://``) URL or a
third-party channel's URL has no such routes, and :func:`probe_problem` says so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import attrs
import requests

from container import ChannelInstances
from container.plugin import Settings, load_object, redact_credentials, url_problem

from ._connections import connection_failure, tls_failure
from ._settings import HttpSettings

_T = TypeVar("_T")
_R = TypeVar("_R")

HEALTH_STATUSES = ("OK", "WARNING", "ERROR")
"""The statuses of a health document, best first."""

UNREACHABLE = "UNREACHABLE"
"""The status of an instance that did not answer (no connection, a timeout, TLS refused)."""

UNKNOWN = "UNKNOWN"
"""The status of an instance whose health cannot be read (not HTTP, the route refused)."""

HIDDEN_DETAILS = (
    "no details: the server shows them to authenticated callers only (auth.expose.health_details; "
    "send credentials: auth.credentials, --token), and logs them"
)
"""The detail of an instance that answered its health without the checks (a caller it does not know)."""


@attrs.frozen
class Instance:
    """One instance of a component: a base URL and the channels it is registered on there.

    Attributes:
        component: the component's name.
        url: the base URL (``http://10.0.0.5:8000``).
        channels: the channels registered at that URL, sorted.
    """

    component: str
    url: str
    channels: tuple[str, ...]


def instances_of(listed: Iterable[ChannelInstances]) -> list[Instance]:
    """Group a registry's listing by component and URL: one :class:`Instance` per URL.

    A server that offers ``dispatch-json`` and ``dispatch-msgpack`` on one port is one instance
    with two channels. Components and URLs keep the registry's order.
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    for address in listed:
        for url in address.urls:
            channels = grouped.setdefault((address.component, url), [])
            if address.channel not in channels:
                channels.append(address.channel)
    return [
        Instance(component, url, tuple(sorted(channels))) for (component, url), channels in grouped.items()
    ]


class ProbeFailed(Exception):
    """A GET did not complete: no connection, a timeout, a TLS failure (the message says which)."""


@attrs.frozen
class InstanceHealth:
    """The health of one instance of a component, as its ``/health/<component>`` tells it.

    Attributes:
        url: the instance's base URL.
        status: ``OK``, ``WARNING``, ``ERROR``, :data:`UNREACHABLE` or :data:`UNKNOWN`.
        detail: why, when the status is not ``OK`` (a failing check, the reason it was not read).
        checks: the health document's checks (``name``, ``status``, ``details``).
    """

    url: str
    status: str
    detail: str = ""
    checks: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the health as a JSON-ready mapping."""
        return {"url": self.url, "status": self.status, "detail": self.detail, "checks": list(self.checks)}


def probe_problem(url: str) -> str | None:
    """Return why ``url`` cannot be probed over HTTP, or None when it can.

    A URL the HTTP channels refuse (credentials, a query, no host) is not probed either: a
    probe sends the operator's credentials, and a registry is no place to say where to.
    """
    if url.startswith(("http://", "https://")):
        problem = url_problem(url, ("http", "https"))
        return None if problem is None else f"not probed: the HTTP channels refuse this URL: {problem}"
    if url.startswith("inproc://"):
        return "an in-process URL (local channel): only its own process can reach it"
    return f"not an HTTP URL ({url.split(':', 1)[0]}): its channel has no health route"


def credential_headers(settings: Settings, token: str | None = None) -> dict[str, str]:
    """Return the ``authorization`` header a probe sends: ``token``, else ``auth.credentials``.

    Raises:
        ConfigurationException: ``auth.credentials.provider`` does not import.
    """
    if token is None:
        credentials = settings.auth.credentials
        if credentials is not None and credentials.token:
            token = credentials.token
        elif credentials is not None and credentials.provider:
            token = str(load_object(credentials.provider, "config key 'auth.credentials.provider'")())
    return {"authorization": f"Bearer {token}"} if token else {}


class HttpProbe:
    """GETs the server endpoints of instances, with the client's TLS settings and credentials.

    Thread-safe: each thread uses its own ``requests.Session``.

    Args:
        settings: the validated configuration (``http.tls`` and ``http.headers`` are used).
        headers: extra request headers (credentials: see :func:`credential_headers`).
        timeout: seconds each GET may take (connecting and reading).
    """

    def __init__(
        self, settings: Settings, headers: Mapping[str, str] | None = None, timeout: float = 2.0
    ) -> None:
        http = settings.section("http", HttpSettings)
        self.tls = http.tls
        self.headers = {**http.headers, **(headers or {})}  # the configured fields, as calls send them
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.verify = self.tls.verify
            if self.tls.cert:
                session.cert = (self.tls.cert, self.tls.key) if self.tls.key else self.tls.cert
            session.headers.update(self.headers)
            session.headers["Accept-Encoding"] = "identity"
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def get(self, url: str, path: str) -> tuple[int, bytes, str]:
        """GET ``url`` + ``path``; return (status, body, content type).

        Raises:
            ProbeFailed: no answer: the connection failed, timed out, or TLS was refused.
        """
        target = url.rstrip("/") + path
        url = redact_credentials(url)  # for messages only
        try:
            answer = self._session().get(target, timeout=self.timeout, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise ProbeFailed(f"cannot reach {url}: {tls_failure(exc)}") from exc
        except requests.Timeout as exc:
            raise ProbeFailed(f"cannot reach {url}: no answer within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise ProbeFailed(f"cannot reach {url}: {connection_failure(exc)}") from exc
        return answer.status_code, answer.content, answer.headers.get("content-type", "")

    def health(self, url: str, component: str) -> InstanceHealth:
        """Return the health of ``component`` at ``url`` (never raises: the status says what happened)."""
        problem = probe_problem(url)
        if problem is not None:
            return InstanceHealth(url, UNKNOWN, problem)
        try:
            status, body, _ = self.get(url, f"/health/{component}")
        except ProbeFailed as exc:
            return InstanceHealth(url, UNREACHABLE, str(exc))
        document = _json(body)
        found = document.get("status") if isinstance(document, dict) else None
        if status in (200, 503) and found in HEALTH_STATUSES:
            checks = tuple(
                {key: str(value) for key, value in check.items()}
                for check in document.get("checks", [])  # type: ignore[union-attr]
                if isinstance(check, dict)
            )
            failing = [
                f"{check.get('name')}: {check.get('details') or check.get('status')}"
                for check in checks
                if check.get("status") != "OK"
            ]
            if found != "OK" and "checks" not in document:
                failing = [HIDDEN_DETAILS]
            return InstanceHealth(url, str(found), "; ".join(failing), checks)
        return InstanceHealth(url, UNKNOWN, f"/health/{component} answered {status}: {error_message(body)}")

    def health_of(self, instances: Iterable[Instance]) -> list[InstanceHealth]:
        """Return the health of each instance, in order, asking several at once."""
        return self.map(lambda i: self.health(i.url, i.component), instances)

    def map(self, function: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """Return ``[function(item) for item in items]``, run on the probe's threads (8 at most)."""
        every = list(items)
        if len(every) <= 1:
            return [function(item) for item in every]
        with self._lock:
            if self._pool is None:
                # Kept for the probe's life: each thread keeps its session (and its connections).
                self._pool = ThreadPoolExecutor(8, thread_name_prefix="servicewire-probe")
            pool = self._pool
        return list(pool.map(function, every))

    def close(self) -> None:
        """Close every session's connections."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        for session in sessions:
            session.close()


def error_message(body: bytes) -> str:
    """Return the message of an error envelope (or the start of the body when it is not one)."""
    document = _json(body)
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        return str(document["error"].get("message", ""))
    return body[:200].decode("utf-8", "replace").strip() or "(no body)"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
