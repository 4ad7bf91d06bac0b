"""HTTP/1.1 requests in, answers out, without I/O: what every server of the HTTP channels parses.

:class:`RequestReader` is fed the bytes of one connection as they arrive and hands back the
complete requests in order, or a refusal (:class:`Refusal`) once a request cannot be served;
:func:`encode_answer` turns an :class:`HttpAnswer` into the bytes to send. Nothing here touches
a socket (the design of h11): the embedded server's event loop feeds it, and the tests drive it
with plain bytes. httptools (llhttp, the parser of uvicorn and Node.js, in strict mode) parses;
servicewire has no parser of its own.

The limits hold as bytes arrive, as nginx holds them: the request line and header fields are
counted while they are received, not when a field is complete (httptools buffers a field until
it is), so a client cannot make the server hold more than ``max_header_size`` bytes of a head;
the body's declared length is checked before any of it is read, and a chunked body is counted
as it arrives.
"""

from __future__ import annotations

import collections
import email.utils
import time
from typing import TYPE_CHECKING, Any

import attrs
import httptools

if TYPE_CHECKING:
    from container.plugin import Cancellation

    from ._budget import BufferAccount

REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
"""The interim answer to ``Expect: 100-continue``."""


@attrs.frozen
class Limits:
    """What the server accepts. Every limit is configurable under ``http:`` (see docs/http.md).

    Attributes:
        max_connections: open connections at most; at the cap, the oldest idle connection is
            closed to make room, or the new one is refused (503) when none is idle. Kept below
            the process's file-descriptor limit.
        max_connections_per_peer: open connections from one client address at most; past it,
            that address's oldest idle connection is closed to make room, or the new one is
            refused (503).
        header_timeout: seconds a client has to send a whole request (and to finish the TLS
            handshake) once it started.
        idle_timeout: seconds an idle keep-alive connection is kept.
        write_timeout: seconds a client may take its answer without reading any of it.
        max_body_size: the largest request body, bytes (413).
        max_header_size: the largest request line and header fields together, bytes (431).
        max_header_count: the most header fields in a request (431).
        max_buffered: the most bytes of request bodies and unsent answers the server holds for
            every connection together; a body that would pass it is refused (503).
        max_buffered_per_peer: the same for the connections of one client address.
    """

    max_connections: int = 1024
    max_connections_per_peer: int = 256
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    write_timeout: float = 30.0
    max_body_size: int = 8 * 1024 * 1024
    max_header_size: int = 64 * 1024
    max_header_count: int = 100
    max_buffered: int = 256 * 1024 * 1024
    max_buffered_per_peer: int = 64 * 1024 * 1024


class HttpRequest:
    """One request: its head, and its body once received.

    Attributes:
        method: ``"POST"``, ``"GET"``, ...
        target: the request target as sent (never decoded).
        headers: the header fields by lowercase name (repeated fields joined with ``, ``).
        body: the body (empty while only the head is known, as for ``Expect: 100-continue``).
        keep_alive: whether the client wants the connection kept open.
        version: the HTTP version, ``"1.1"`` or ``"1.0"``.
        peer: the client's address, ``host:port``.
        peer_certificate: the client's certificate (mTLS), as :meth:`ssl.SSLSocket.getpeercert`
            returns it, or None.
        cancellation: cancelled by the server when the client goes away while the request is
            answered (None when the server cannot tell: WSGI).
        charged: the bytes of its body counted against the server's buffer budget (given back
            once it is answered).
    """

    __slots__ = (
        "body",
        "cancellation",
        "charged",
        "headers",
        "keep_alive",
        "method",
        "peer",
        "peer_certificate",
        "target",
        "version",
    )

    def __init__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        keep_alive: bool = True,
        peer: str = "",
        peer_certificate: Any = None,
        version: str = "1.1",
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.peer = peer
        self.peer_certificate = peer_certificate
        self.version = version
        self.cancellation: Cancellation | None = None
        self.charged = 0


class HttpAnswer:
    """What to send back.

    Attributes:
        status: the status code.
        body: the body.
        content_type: its content type ("" for none).
        headers: further header fields.
    """

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


_NAMES: dict[bytes, str] = {}
"""Header field names as sent -> as looked up (lowercase): a client sends the same few."""


class Refusal(Exception):
    """A request the server answers itself and then closes the connection: status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestReader:
    """The requests of one connection, parsed from its bytes as they arrive.

    After :meth:`feed`, :attr:`requests` holds the complete requests in the order they came
    (a client may pipeline); :attr:`refusal` is set once a request cannot be served, and the
    requests before it are still answered first. :attr:`awaiting_continue` holds the head of
    a request whose client waits for ``100 Continue`` before sending the body.

    Args:
        limits: the sizes and counts accepted.
        peer: the client's address, for the requests.
        peer_certificate: the client's certificate (mTLS), for the requests.
        account: the connection's share of the server's buffer budget: a body that does not
            fit is refused with 503 (a declared length before any of it is read, any body as
            its bytes arrive, which are counted then). None: no budget.
    """

    def __init__(
        self, limits: Limits, peer: str, peer_certificate: Any = None, account: BufferAccount | None = None
    ) -> None:
        self.limits = limits
        self.account = account
        self.peer = peer
        self.peer_certificate = peer_certificate
        self.requests: collections.deque[HttpRequest] = collections.deque()
        self.refusal: Refusal | None = None
        self.awaiting_continue: HttpRequest | None = None
        self.started: float | None = None
        """When the request being received started (monotonic), or None between requests."""
        self._parser = httptools.HttpRequestParser(self)
        self._in_head = True
        self._head_bytes = 0
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._headers: dict[str, str] = {}
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._charged = 0  # body bytes of this request counted against the budget

    @property
    def receiving(self) -> bool:
        """True while a request has started and is not complete."""
        return self.started is not None

    def feed(self, data: bytes | memoryview) -> None:
        """Parse the next bytes of the connection; never raises."""
        if self.refusal is not None:
            return
        limit = self.limits.max_header_size
        try:
            while data:
                if not self._in_head:
                    self._parser.feed_data(data)
                    return
                # A head is being received: feed no more than one byte past the limit of what
                # this head may still take, so that its size is known as bytes arrive.
                room = limit + 1 - self._head_bytes
                if len(data) > room:
                    piece, data = data[:room], data[room:]
                else:
                    piece, data = data, b""
                self._head_bytes += len(piece)
                self._parser.feed_data(piece)
                if self._in_head and self._head_bytes > limit and self.started is not None:
                    raise Refusal(431, f"the request head is larger than {limit} bytes")
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            self._refuse(refused if isinstance(refused, Refusal) else Refusal(400, "malformed request"))
        except httptools.HttpParserUpgrade:
            self._refuse(Refusal(400, "protocol upgrades are not supported"))
        except httptools.HttpParserError as exc:
            self._refuse(Refusal(400, f"malformed request: {exc}"))
        except Refusal as exc:
            self._refuse(exc)

    def _refuse(self, refusal: Refusal) -> None:
        self.refusal = refusal
        self.awaiting_continue = None
        self.drop_body()

    def refuse(self, refusal: Refusal) -> None:
        """Refuse the request being received (the server decided so): nothing more is parsed."""
        self._refuse(refusal)

    def drop_body(self) -> None:
        """Forget the body of the request being received, and give its bytes back to the budget."""
        self._body = []
        if self._charged and self.account is not None:
            self.account.give_back(self._charged)
        self._charged = 0

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.started = time.monotonic()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow_head(len(name) + len(value) + 4)
        limits = self.limits
        if len(self._headers) >= limits.max_header_count:
            raise Refusal(431, f"more than {limits.max_header_count} header fields")
        key = _NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_NAMES) < 512 and len(name) <= 64:
                _NAMES[name] = key
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.max_header_size:
            raise Refusal(431, f"the request head is larger than {self.limits.max_header_size} bytes")

    def on_headers_complete(self) -> None:
        self._in_head = False
        headers = self._headers
        version = self._parser.get_http_version()
        if version == "1.0" and "transfer-encoding" in headers:
            # RFC 9112, 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
            raise Refusal(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request")
        limit = self.limits.max_body_size
        length = headers.get("content-length")
        declared = 0
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise Refusal(400, f"Content-Length {length!r} is not a number") from None
            if declared > limit:
                raise Refusal(413, f"the body of {declared} bytes is larger than the limit of {limit} bytes")
            if declared > 0 and self.account is not None:
                # Refused at once if it cannot fit, but counted only as its bytes arrive: heads
                # that declare 8 MiB and send nothing must not fill the budget for everyone.
                refused = self.account.refusal(declared)
                if refused is not None:
                    raise Refusal(503, f"{refused}: try again later")
        if (
            version == "1.1"
            and headers.get("expect", "").lower() == "100-continue"
            and (declared > 0 or "transfer-encoding" in headers)
        ):
            # Answered with 100 Continue only once the request is routed and its caller
            # authenticated (the server decides, see HttpEngine); HTTP/1.0 clients never get it.
            self.awaiting_continue = self._request(b"")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        limit = self.limits.max_body_size
        if self._body_size > limit:
            raise Refusal(413, f"the body is larger than the limit of {limit} bytes")
        if self.account is not None:
            self._take(len(body))
        self._body.append(body)

    def _take(self, size: int) -> None:
        assert self.account is not None
        refused = self.account.take(size)
        if refused is not None:
            raise Refusal(503, f"{refused}: try again later")
        self._charged += size

    def on_message_complete(self) -> None:
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = self._request(body)
        request.charged = self._charged
        self.requests.append(request)
        self.awaiting_continue = None
        self.started = None
        self._in_head = True
        self._head_bytes = 0
        self._reset()

    def _request(self, body: bytes) -> HttpRequest:
        parser = self._parser
        return HttpRequest(
            parser.get_method().decode("latin-1"),
            self._url.decode("latin-1"),
            self._headers,
            body,
            parser.should_keep_alive(),
            self.peer,
            self.peer_certificate,
            parser.get_http_version(),
        )


class HttpDate:
    """The Date header's value, formatted at most once a second."""

    def __init__(self) -> None:
        self._text = ""
        self._second = 0

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._text = email.utils.formatdate(now, usegmt=True)
            self._second = now
        return self._text


def encode_answer(
    answer: HttpAnswer, date: str, keep_alive: bool, version: str, head_only: bool = False
) -> bytes:
    """Return the bytes of an answer.

    Args:
        answer: what to send.
        date: the Date header's value.
        keep_alive: whether the connection stays open after it.
        version: the request's HTTP version: an HTTP/1.0 connection kept open is told so
            (``Connection: keep-alive``), since HTTP/1.0 closes by default.
        head_only: leave the body out (an answer to HEAD).
    """
    status = answer.status
    head = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
    head += f"Date: {date}\r\n"
    if answer.content_type:
        head += f"Content-Type: {answer.content_type}\r\n"
    head += f"Content-Length: {len(answer.body)}\r\n"
    for name, value in answer.headers:
        head += f"{name}: {value}\r\n"
    if not keep_alive:
        head += "Connection: close\r\n"
    elif version == "1.0":
        head += "Connection: keep-alive\r\n"
    data = (head + "\r\n").encode("latin-1")
    return data if head_only else data + answer.body


_STATUS_LINES = {status: f"HTTP/1.1 {status} {reason}\r\n" for status, reason in REASONS.items()}
