"""Frames: a u32 length, then MessagePack fields; every read bounded by the time left.

:func:`read_frame` reads one from a blocking socket, :func:`read_frame_async` from a
non-blocking one on an event loop (asyncio's socket functions: the socket belongs to no loop
while it waits in the pool, so the sync path and every event loop share one pool).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import msgspec

MAX_FRAME = 8 * 1024 * 1024


class Answer(msgspec.Struct, array_like=True):
    """An answer frame's fields: ``[status, body]``, or ``[status, body, metadata]``."""

    status: int
    body: bytes
    metadata: dict[str, str] = {}


requests = msgspec.msgpack.Decoder(tuple[str, dict[str, str], bytes])  # (path, metadata, body)
answers = msgspec.msgpack.Decoder(Answer)


class FrameTooLarge(ValueError):
    """A frame announced more than MAX_FRAME bytes."""


def frame(*fields: Any) -> bytes:
    """Return the frame carrying ``fields``."""
    encoded = msgspec.msgpack.encode(fields)
    return len(encoded).to_bytes(4, "big") + encoded


def read_frame(sock: socket.socket, time_left: Callable[[], float | None] | None = None) -> bytes:
    """Read one frame's fields, giving each recv ``time_left()`` seconds (None: no timeout).

    The first recv usually brings the whole frame of a call: one system call per frame.

    Raises:
        ConnectionError: the peer closed the connection.
        FrameTooLarge: the frame is larger than MAX_FRAME.
    """
    data = _recv(sock, 1 << 16, time_left)
    while len(data) < 4:
        data += _recv(sock, 4 - len(data), time_left)
    size = int.from_bytes(data[:4], "big")
    if size > MAX_FRAME:
        raise FrameTooLarge(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
    parts = [data[4:]]
    while (have := sum(map(len, parts))) < size:
        parts.append(_recv(sock, min(size - have, 1 << 20), time_left))
    return b"".join(parts)  # the one part itself, when one recv brought the whole frame


def _recv(sock: socket.socket, size: int, time_left: Callable[[], float | None] | None) -> bytes:
    if time_left is not None:
        sock.settimeout(time_left())
    chunk = sock.recv(size)
    if not chunk:
        raise ConnectionError("connection closed by peer")
    return chunk


async def read_frame_async(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """:func:`read_frame` on an event loop (the caller bounds it by cancelling it)."""
    data = await _recv_async(loop, sock, 1 << 16)
    while len(data) < 4:
        data += await _recv_async(loop, sock, 4 - len(data))
    size = int.from_bytes(data[:4], "big")
    if size > MAX_FRAME:
        raise FrameTooLarge(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
    parts = [data[4:]]
    while (have := sum(map(len, parts))) < size:
        parts.append(await _recv_async(loop, sock, min(size - have, 1 << 20)))
    return b"".join(parts)


async def _recv_async(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    chunk = await loop.sock_recv(sock, size)
    if not chunk:
        raise ConnectionError("connection closed by peer")
    return chunk
