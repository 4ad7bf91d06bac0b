"""Frames: a u32 length, then MessagePack fields; every read bounded by the time left."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import msgspec

MAX_FRAME = 8 * 1024 * 1024
requests = msgspec.msgpack.Decoder(tuple[str, dict[str, str], bytes])  # (path, metadata, body)
answers = msgspec.msgpack.Decoder(tuple[int, bytes])  # (status, body)


class FrameTooLarge(ValueError):
    """A frame announced more than MAX_FRAME bytes."""


def frame(*fields: Any) -> bytes:
    """Return the frame carrying ``fields``."""
    encoded = msgspec.msgpack.encode(fields)
    return len(encoded).to_bytes(4, "big") + encoded


def read_frame(sock: socket.socket, time_left: Callable[[], float | None] = lambda: None) -> bytes:
    """Read one frame's fields, giving each recv ``time_left()`` seconds.

    Raises:
        ConnectionError: the peer closed the connection.
        FrameTooLarge: the frame is larger than MAX_FRAME.
    """
    size = int.from_bytes(_read(sock, 4, time_left), "big")
    if size > MAX_FRAME:
        raise FrameTooLarge(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
    return _read(sock, size, time_left)


def _read(sock: socket.socket, size: int, time_left: Callable[[], float | None]) -> bytes:
    parts = []
    while size:
        sock.settimeout(time_left())
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed by peer")
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)
