"""The HTTP/1.1 request reader and answer encoding, driven with plain bytes (no sockets)."""

from __future__ import annotations

import pytest

from channels.http._budget import BufferBudget
from channels.http._protocol import HttpAnswer, Limits, RequestReader, encode_answer

LIMITS = Limits(max_body_size=1024, max_header_size=512, max_header_count=10)


def request(body: bytes = b"{}", extra: str = "", version: str = "1.1") -> bytes:
    return (
        f"POST /invoke/c/s/m HTTP/{version}\r\nHost: h\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def test_requests_arrive_in_order_whatever_the_chunking():
    """Three pipelined requests fed one byte at a time come out whole and in order."""
    data = b"".join(request(f'{{"n": {n}}}'.encode()) for n in range(3))
    reader = RequestReader(LIMITS, "peer")
    for index in range(len(data)):
        reader.feed(data[index : index + 1])
    assert [r.body for r in reader.requests] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert reader.refusal is None and not reader.receiving


def test_a_refusal_leaves_the_requests_before_it():
    reader = RequestReader(LIMITS, "peer")
    reader.feed(request() + b"GARBAGE\r\n\r\n")
    assert len(reader.requests) == 1
    assert reader.refusal is not None and reader.refusal.status == 400


def test_a_head_is_refused_as_it_grows_not_when_a_field_ends():
    """A field that never ends: refused once the head passes the limit, with 4 KiB fed of 1 MiB."""
    reader = RequestReader(LIMITS, "peer")
    reader.feed(b"POST /invoke/c/s/m HTTP/1.1\r\nHost: h\r\nX-Big: ")
    fed = 0
    while reader.refusal is None and fed < 1024 * 1024:
        reader.feed(b"a" * 1024)
        fed += 1024
    assert reader.refusal is not None and reader.refusal.status == 431
    assert fed <= 1024


def test_a_pipelined_head_after_a_body_is_counted_too():
    reader = RequestReader(LIMITS, "peer")
    reader.feed(request() + b"POST /x HTTP/1.1\r\nX-Big: " + b"a" * 2000)
    assert len(reader.requests) == 1
    assert reader.refusal is not None and reader.refusal.status == 431


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (request(b"x" * 2000), 413),
        (request(extra="".join(f"X-{n}: v\r\n" for n in range(12))), 431),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 400),
    ],
    ids=["body", "field-count", "te-in-1.0", "two-lengths", "upgrade"],
)
def test_refusals(data, status):
    reader = RequestReader(LIMITS, "peer")
    reader.feed(data)
    assert reader.refusal is not None and reader.refusal.status == status


def test_expect_100_continue_is_noted_for_http_1_1_only():
    reader = RequestReader(LIMITS, "peer")
    reader.feed(request(b"{}", "Expect: 100-continue\r\n")[:-2])
    assert reader.awaiting_continue is not None and reader.awaiting_continue.target == "/invoke/c/s/m"
    reader.feed(b"{}")
    assert reader.awaiting_continue is None and len(reader.requests) == 1
    old = RequestReader(LIMITS, "peer")
    old.feed(request(b"{}", "Expect: 100-continue\r\n", version="1.0")[:-2])
    assert old.awaiting_continue is None


def test_answers_say_how_the_connection_goes_on():
    answer = HttpAnswer(200, b"ok", "text/plain")
    kept = encode_answer(answer, "D", True, "1.1")
    assert kept.startswith(b"HTTP/1.1 200 OK\r\n") and kept.endswith(b"\r\n\r\nok")
    assert b"Connection" not in kept
    assert b"Connection: keep-alive\r\n" in encode_answer(answer, "D", True, "1.0")
    assert b"Connection: close\r\n" in encode_answer(answer, "D", False, "1.1")
    assert encode_answer(answer, "D", True, "1.1", head_only=True).endswith(b"Content-Length: 2\r\n\r\n")


def test_bodies_are_counted_against_the_buffer_budget_as_they_arrive():
    """A declared length over the budget is refused (503) at the head; a chunked body as it passes."""
    budget = BufferBudget(total=1000, per_peer=600)
    first = RequestReader(LIMITS, "peer", account=budget.account("client-a"))
    first.feed(request(b"x" * 500))
    assert len(first.requests) == 1 and budget.used == 500
    second = RequestReader(LIMITS, "peer", account=budget.account("client-a"))
    second.feed(request(b"x" * 200)[:-200])  # the head only: refused before any of the body
    assert second.refusal is not None and second.refusal.status == 503
    assert "max_buffered_per_peer" in second.refusal.message
    other = RequestReader(LIMITS, "peer", account=budget.account("client-b"))
    other.feed(b"POST /invoke/c/s/m HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(5):
        other.feed(b"64\r\n" + b"y" * 100 + b"\r\n")
    assert other.refusal is None and budget.used == 1000
    other.feed(b"64\r\n" + b"y" * 100 + b"\r\n")
    assert other.refusal is not None and other.refusal.status == 503
    assert "max_buffered " in other.refusal.message
    assert budget.used == 500  # the refused body was given back
    assert first.account is not None
    first.account.give_back(first.requests[0].charged)
    assert budget.used == 0 and budget.by_peer == {}
