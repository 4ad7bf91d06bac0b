"""The requests client transport of the HTTP channels, chosen in config for what only requests offers.

:class:`RequestsTransport` sends each call with ``Session.request`` on one ``requests.Session``
per component, shared by the calling threads, so transport adapters, proxies (``trust_env``),
response hooks and auth objects (``session.auth``: ``HTTPDigestAuth``, an ``AuthBase`` that
refreshes a token) apply exactly as requests applies them. It is never chosen by looking at a
session: ``http.client: requests`` (or ``http.components.<name>.client: requests``) chooses it.

Each session starts from the typed ``http`` settings (``headers``, ``tls.verify``/``cert``,
``trust_env``, ``pool_size`` as the adapters' pool size), then the container's session
customizers adjust it. Failures are classified as the pool classifies them, and the answer's
header fields come back as its metadata, the same on both transports.

requests bounds the connection attempt and each read, not the exchange: a server that sends a
byte just often enough would hold a call past its deadline. So the adapters mounted by default
carry a watch: a thread per transport shuts down the connection of a call whose deadline passed,
whatever it is waiting for. (An adapter that a customizer mounts instead bounds each read only.)
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy

import requests
import urllib3

from container import (
    CallInterruptedException,
    InvalidResponseException,
    ServiceException,
    ServiceTimeoutException,
    ServiceUnavailableException,
)
from container.plugin import Request, Response, Settings, Transport, load_object

from ._connections import (
    MAX_ANSWER_HEAD,
    DeadlineExceeded,
    ExchangeError,
    ResponseTooLarge,
    connection_failure,
    find_in_chain,
    framing_refused,
    tls_failure,
    too_large_declared,
    too_large_read,
)
from ._deadline_watch import DeadlineAdapter, DeadlineWatch
from ._headers import answer_metadata
from ._pool_transport import Sender, configured_context
from ._settings import HttpSettings

SessionCustomizer = Callable[[requests.Session, str], None]
"""A function that adjusts a new session; it receives the session and the component name."""


class RequestsTransport(Transport):
    """POSTs calls through ``requests.Session.request``, one session per component.

    Override :meth:`create_session` in a subclass for full control over the sessions (and set
    ``transport = YourTransport`` on a channel subclass); for adjustments, give session
    customizers (``http.session_customizers`` in config, or the ``"http.session_customizers"``
    extension in code).

    Args:
        settings: the servicewire settings (the ``http`` section).
        create_session: makes the session of a component (default: :meth:`create_session`).

    Raises:
        ConfigurationException: a session customizer named in config cannot be imported, or
            the TLS files of ``http.tls`` cannot be read.
    """

    def __init__(
        self, settings: Settings, create_session: Callable[[str], requests.Session] | None = None
    ) -> None:
        super().__init__(settings)
        self.http = settings.section("http", HttpSettings)
        if self.http.tls.verify is not True or self.http.tls.cert:
            configured_context(self.http)  # files named in config are checked now, as the pool does
        self.customizers: list[SessionCustomizer] = [
            load_object(spec, f"config key 'http.session_customizers[{index}]'")
            for index, spec in enumerate(self.http.session_customizers)
        ]
        self.customizers.extend(settings.extensions.get("http.session_customizers", ()))
        self._create = create_session or self.create_session
        self._senders: dict[str, Sender] = {}
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.deadlines = DeadlineWatch()

    def create_session(self, component: str) -> requests.Session:
        """Return a new session for calls to ``component``: the typed settings, then the customizers.

        The session's adapters (``http://`` and ``https://``) keep up to ``http.pool_size``
        connections per instance URL and carry the deadline watch; cookies are refused (a
        session is shared by threads, and calls carry metadata, not cookies). The container's
        customizers run last: ``http.session_customizers`` from config, then those of the
        ``"http.session_customizers"`` extension given in code.
        """
        http = self.http
        session = requests.Session()
        session.trust_env = http.trust_env
        session.verify = http.tls.verify
        if http.tls.cert:
            session.cert = (http.tls.cert, http.tls.key) if http.tls.key else http.tls.cert
        session.headers.update(http.headers_of(component))
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = DeadlineAdapter(pool_maxsize=http.pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        for customizer in self.customizers:
            customizer(session, component)
        return session

    def sender(self, component: str) -> Sender:
        """Return the function that sends calls to ``component`` (its session made once)."""
        found = self._senders.get(component)
        if found is None:
            with self._lock:
                found = self._senders.get(component)
                if found is None:
                    session = self._create(component)
                    self._sessions.append(session)
                    found = self._senders[component] = _SessionRoute(self, session).send
        return found

    def send(self, url: str, request: Request) -> Response:
        """POST the call to ``url`` and return the answer, its metadata included."""
        component = request.path.partition("/")[0]
        return (self._senders.get(component) or self.sender(component))(url, request)

    def close(self) -> None:
        """Close every session's connections and stop the deadline watch."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            self._senders.clear()
        for session in sessions:
            session.close()
        self.deadlines.close()


class _SessionRoute:
    """Sends the calls to one component through its session."""

    __slots__ = ("session", "transport")

    def __init__(self, transport: RequestsTransport, session: requests.Session) -> None:
        self.transport = transport
        self.session = session

    def send(self, url: str, request: Request) -> Response:
        full_url = f"{url}/invoke/{request.path}"
        content_type = request.content_type
        headers = {
            "Content-Type": content_type,
            "Accept": content_type,
            "Accept-Encoding": "identity",  # a compressed answer is still counted as decompressed
            **request.wire_metadata(),
        }
        connect = request.connect_time(full_url)
        left = request.time_left(full_url)
        watch = self.transport.deadlines.watch(request.deadline) if request.deadline is not None else None
        try:
            response = self.session.request(
                "POST",
                full_url,
                data=request.body,
                headers=headers,
                timeout=(connect, left),
                allow_redirects=False,
                stream=True,
            )
            _check_head(response)
            body = _read_limited(response, self.transport.http.max_response_size, request.deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ExchangeError) as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        except (ResponseTooLarge, DeadlineExceeded) as exc:
            raise _call_error(exc, full_url, request, connect) from exc
        finally:
            if watch is not None:
                self.transport.deadlines.release(watch)
        if request.deadline is not None and time.monotonic() > request.deadline:
            # An answer that came too late is reported as the timeout it is, never returned.
            raise ServiceTimeoutException(full_url, "deadline", request.timeout)
        return Response(
            response.status_code,
            body,
            response.headers.get("Content-Type", ""),
            answer_metadata(response.headers.items()),
        )


def _call_error(exc: BaseException, full_url: str, request: Request, connect: float) -> ServiceException:
    """The documented exception for a failure of the exchange, as the pool transport gives it."""
    if isinstance(exc, requests.ConnectTimeout):
        return ServiceTimeoutException(full_url, "connect", connect)
    if isinstance(exc, requests.exceptions.SSLError):
        # A refused handshake (or, with TLS 1.3, the server's alert about our certificate on the
        # first read): the request never reached the application.
        return ServiceUnavailableException(f"cannot reach {full_url}: {tls_failure(exc)}", full_url)
    if isinstance(exc, requests.ConnectionError) and _nothing_sent(exc):
        return ServiceUnavailableException(f"cannot reach {full_url}: {connection_failure(exc)}", full_url)
    if isinstance(exc, ValueError) and isinstance(exc, requests.RequestException):
        # requests refused to prepare the request (a header or URL it cannot send): nothing sent.
        return ServiceUnavailableException(f"cannot call {full_url}: {exc}", full_url)
    deadline = request.deadline
    if isinstance(exc, (requests.ReadTimeout, DeadlineExceeded)) or (
        deadline is not None and time.monotonic() >= deadline
    ):
        return ServiceTimeoutException(full_url, "deadline", request.timeout)
    if isinstance(exc, ResponseTooLarge):
        return InvalidResponseException(f"answer from {full_url} refused: {exc}", full_url)
    if _head_too_long(exc):
        return InvalidResponseException(
            f"answer from {full_url} refused: its head is longer than {MAX_ANSWER_HEAD} bytes "
            "(or has more than 100 header fields)",
            full_url,
        )
    if isinstance(exc, (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError)):
        return InvalidResponseException(f"answer from {full_url} cannot be decoded: {_reason(exc)}", full_url)
    return CallInterruptedException(
        f"connection to {full_url} broke during the call: {_reason(exc)}", full_url
    )


def _read_limited(response: requests.Response, limit: int, deadline: float | None) -> bytes:
    """Read an answer's body, decoded, refusing it once it passes ``limit`` bytes or the deadline.

    A declared length over the limit is refused before reading; a compressed answer is counted
    as it is decompressed, so a gzip bomb stops at the limit instead of filling the memory.
    """
    try:
        declared = int(response.headers.get("Content-Length", "0"))
    except ValueError:
        declared = 0
    if declared > limit:
        response.close()
        raise ResponseTooLarge(too_large_declared(declared, limit))
    parts: list[bytes] = []
    size = 0
    try:
        for part in response.raw.stream(65536, decode_content=True):
            size += len(part)
            if size > limit:
                raise ResponseTooLarge(too_large_read(limit))
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the deadline passed while the answer was read")
            parts.append(part)
    except (ResponseTooLarge, DeadlineExceeded):
        response.close()
        raise
    except urllib3.exceptions.ReadTimeoutError as exc:
        response.close()
        raise DeadlineExceeded("the deadline passed while the answer was read") from exc
    except urllib3.exceptions.DecodeError:
        response.close()
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise ExchangeError(f"reading the answer failed: {_reason(exc)}") from exc
    return b"".join(parts)


def _check_head(response: requests.Response) -> None:
    """Refuse what the pool refuses in a head that http.client accepted (the transports agree).

    Raises:
        ExchangeError: both ``Content-Length`` and ``Transfer-Encoding`` (urllib3 would read the
            body by the latter; RFC 9112, 6.2 forbids sending both).
        ResponseTooLarge: the header fields add up to more than :data:`MAX_ANSWER_HEAD` bytes
            (http.client limits each line, not the whole head).
    """
    headers = response.headers
    if "Transfer-Encoding" in headers and "Content-Length" in headers:
        response.close()
        raise ExchangeError(framing_refused())
    if sum(len(name) + len(value) + 4 for name, value in headers.items()) > MAX_ANSWER_HEAD:
        response.close()
        raise ResponseTooLarge(f"its head is longer than {MAX_ANSWER_HEAD} bytes")


def _head_too_long(exc: BaseException) -> bool:
    """Whether http.client refused the answer's head: a line over 64 KiB, or over 100 fields."""
    if find_in_chain(exc, http.client.LineTooLong) is not None:
        return True
    failed = find_in_chain(exc, http.client.HTTPException)
    return failed is not None and str(failed).startswith("got more than")


def _nothing_sent(exc: requests.ConnectionError) -> bool:
    # urllib3 wraps a failed connect in MaxRetryError(reason=NewConnectionError).
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _reason(exc: BaseException) -> str:
    # urllib3 nests the useful reason ("Connection refused") a few causes deep.
    seen = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    return str(seen) if seen is not exc else str(exc)
