"""The deadline watch of the requests transport: a call past its deadline loses its connection.

requests bounds the connection attempt and each read, not the exchange: a server that sends a
byte just often enough would hold a call far past its deadline. :class:`DeadlineWatch` (one
thread per transport, started by the first call) shuts down the socket of a call whose deadline
passed, whatever it waits for; :class:`DeadlineAdapter`, the adapter the requests transport
mounts, makes connections that tell the watch which socket the calling thread's call uses.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

WATCH_TICK = 0.05
"""Seconds the watch sleeps at most between looks at the calls in flight."""


class _Watch:
    """One call in flight with a deadline, and the connection it uses now."""

    __slots__ = ("connection", "deadline", "lock")

    def __init__(self, deadline: float, lock: threading.Lock) -> None:
        self.deadline = deadline
        self.lock = lock
        self.connection: Any = None


class _Calling(threading.local):
    watch: _Watch | None = None


_calling = _Calling()
"""The watch of the call the current thread is making (the connection classes read it)."""


class DeadlineWatch:
    """Shuts down the connection of a call whose deadline passed (one thread, started on first use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._active: set[_Watch] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, deadline: float) -> _Watch:
        """Watch the calling thread's call until :meth:`release`."""
        watch = _Watch(deadline, self.lock)
        self._active.add(watch)
        _calling.watch = watch
        if not self._wake.is_set():
            if self._thread is None:
                self._start()
            self._wake.set()
        return watch

    def release(self, watch: _Watch) -> None:
        """The call is over: stop watching it."""
        self._active.discard(watch)
        _calling.watch = None

    def _start(self) -> None:
        with self.lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="servicewire-deadlines", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._closed:
                return
            self._wake.clear()
            while self._active and not self._closed:
                now = time.monotonic()
                due = min((watch.deadline for watch in list(self._active)), default=now + WATCH_TICK)
                if due > now:
                    time.sleep(min(due - now, WATCH_TICK))
                    continue
                for watch in list(self._active):
                    if watch.deadline <= now:
                        self._cut(watch)
                time.sleep(0.005)  # an expired call not yet connected is looked at again soon

    def _cut(self, watch: _Watch) -> None:
        with self.lock:
            connection = watch.connection
            if connection is None or getattr(connection, "_servicewire_watch", None) is not watch:
                return  # not connected yet, or the connection went back to the pool for another call
            sock = connection.sock
            if isinstance(sock, socket.socket):
                try:
                    # The plain socket's shutdown: a blocked read (TLS or not) returns at once.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass
                watch.connection = None

    def close(self) -> None:
        """Stop the thread."""
        with self.lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=1.0)


def _watched_request(connection: Any) -> None:
    """Tie ``connection`` to the calling thread's call, or refuse to send past its deadline."""
    watch = _calling.watch
    if watch is None:
        return
    with watch.lock:
        connection._servicewire_watch = watch
        watch.connection = connection
    if time.monotonic() >= watch.deadline:
        raise TimeoutError("the call's deadline passed before the request was sent")


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched_request(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched_request(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' ``HTTPAdapter`` whose connections the deadline watch can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager, with connection pools the watch knows."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Return the proxy manager for ``proxy``, with watched connection pools (HTTP proxies)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
