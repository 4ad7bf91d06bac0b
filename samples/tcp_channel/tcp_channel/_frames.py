"""Frame reading and writing shared by the client and the server."""

from __future__ import annotations

import socket

MAX_FRAME = 8 * 1024 * 1024
"""Largest frame accepted, in bytes."""


class Closed(Exception):
    """The peer closed the connection."""


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes.

    Raises:
        Closed: the peer closed the connection first.
    """
    if size == 0:
        return b""
    data = sock.recv(size)
    if not data:
        raise Closed("connection closed by peer")
    if len(data) == size:
        return data
    parts = [data]
    remaining = size - len(data)
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise Closed("connection closed by peer")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def request_frame(path: bytes, body: bytes) -> bytes:
    """Build a request frame."""
    return (2 + len(path) + len(body)).to_bytes(4, "big") + len(path).to_bytes(2, "big") + path + body


def response_frame(status: int, body: bytes) -> bytes:
    """Build a response frame."""
    return (2 + len(body)).to_bytes(4, "big") + status.to_bytes(2, "big") + body
