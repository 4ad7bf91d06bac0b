"""Failover through thousands of dead instances: candidates are computed once per change, not per attempt.

Issue 17 found that with 10,000 dead entries and one live one, 20 of 30 calls timed out at a
4 s deadline, because every attempt rebuilt the list of candidates. Real sockets here: each
dead URL is a port of 127.0.0.1 held by a socket that is bound but not listening, so nothing
else can take it and every connection to it is refused at once.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from container import ChannelInstances, channel_of

from .conftest import client_manager
from .services import WireService

DEAD = 10_000


@contextlib.contextmanager
def descriptors(needed: int) -> Iterator[None]:
    """Raise the soft limit of open files to at least ``needed`` for the block (the hard one when root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        yield
        return
    wanted_hard = hard if hard == resource.RLIM_INFINITY or hard >= needed else needed
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, wanted_hard))
    except (ValueError, OSError):
        pytest.skip(f"the test holds {needed} sockets; the open-file limit is {soft} (hard {hard})")
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def dead_ports() -> Iterator[list[int]]:
    """10,000 ports of 127.0.0.1 where nothing listens: held, bound but not listening."""
    with descriptors(DEAD + 1024):
        held: list[socket.socket] = []
        try:
            for _ in range(DEAD):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", 0))
            yield [sock.getsockname()[1] for sock in held]
        finally:
            for sock in held:
                sock.close()


def test_ten_thousand_dead_urls_and_one_live_all_calls_succeed(server, dead_ports):
    """30 calls with a 4 s deadline all succeed, though the first walks through 10,000 refused connections.

    The first-URL selector with the live URL last makes the first call try every dead URL in
    turn (one step each); they cool down, so the calls after it go straight to the live URL.
    """
    live = f"http://127.0.0.1:{server.port}"
    dead = [f"http://127.0.0.1:{port}" for port in dead_ports]
    components = {"wire-component": {"cooldown": 60, "selector": "first"}}
    manager = client_manager(live, calls={"timeout": 4.0}, components=components)
    try:
        proxy = manager.get_service(WireService, "dispatch-msgpack")
        assert proxy.hello("warm") == "warm"
        channel = channel_of(proxy)
        channel.set_address(ChannelInstances("wire-component", "dispatch-msgpack", [*dead, live]))
        took = []
        for index in range(30):
            started = time.monotonic()
            assert proxy.hello(f"call {index}") == f"call {index}"
            took.append(time.monotonic() - started)
        assert len(channel.attempts.cooling) == DEAD, "every dead URL was tried once, and cools down"
        assert max(took[1:]) < 0.5, f"after the first call, calls go to the live URL: {max(took[1:]):.3f}s"
    finally:
        manager.close()
