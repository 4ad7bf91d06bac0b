"""Async services across real processes: both HTTP codecs and the tcp-msgpack sample.

One server process hosts the mixed service (`def` and `async def` methods in one interface);
this process calls it through each channel as it is declared, and a client process holding the
other-way declaration calls its async methods synchronously and its sync ones awaited. The
HTTP channels' transport has no ``send_async`` yet, so their awaited calls run in the
runtime's thread pool (the fallback every such transport gets).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dependency_injector import providers

from container import (
    Runtime,
    ServiceContainer,
    ServiceManager,
    ServiceTimeoutException,
    call_blocking,
    call_in_thread,
    call_options,
    last_response,
)
from container.codec import MSGPACK_CODEC
from tests.container.async_services import MixedError, MixedService

from .processes import ROOT, ServerProcess, python_module, wait_until

sys.path.insert(0, str(ROOT / "samples" / "tcp_channel"))

from tcp_channel import TcpMsgpackChannel

CHANNELS = ["dispatch-json", "dispatch-msgpack", "tcp-msgpack"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("async-e2e") / "registry.json"


@pytest.fixture(scope="module")
def server(registry: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(python_module("tests.e2e.async_server", str(registry)))
    yield process
    process.terminate()


@pytest.fixture(scope="module")
def manager(server: ServerProcess, registry: Path) -> Iterator[ServiceManager]:
    """This process's client: the tcp sample registered for its runtime only."""
    runtime = Runtime()
    runtime.channels.register("tcp-msgpack", TcpMsgpackChannel)
    config = {"registry": {"type": "file", "path": str(registry), "poll_interval": 0.05}}
    made: ServiceManager = ServiceContainer(
        config=providers.Object(config), runtime=providers.Object(runtime)
    ).service_manager()
    yield made
    made.close()
    runtime.close()


@pytest.fixture(params=CHANNELS)
def mixed(request: pytest.FixtureRequest, manager: ServiceManager) -> MixedService:
    return manager.get_service(MixedService, request.param)


def test_sync_and_async_methods_of_one_interface(mixed):
    """A `def` method is called, `async def` ones awaited, with metadata and errors as ever."""

    async def awaited() -> tuple[int, dict[str, str], dict[str, str]]:
        doubled = await mixed.double(21)
        with call_options(metadata={"tenant": "acme"}), last_response() as answered:
            seen = await mixed.echo_context()
        with pytest.raises(MixedError) as info:
            await mixed.fail("ink")
        assert info.value.item == "ink"
        return doubled, seen, dict(answered.metadata)

    assert mixed.add(2, b=3) == 5
    doubled, seen, answered = asyncio.run(awaited())
    assert doubled == 42 and seen["tenant"] == "acme" and answered["answered"] == "yes"


def test_the_deadline_of_an_awaited_call_stops_the_call_and_the_servers_work(mixed):
    tag = uuid.uuid4().hex

    async def call() -> None:
        with call_options(timeout=0.5):
            await mixed.sleep(30, tag)

    started = time.monotonic()
    with pytest.raises(ServiceTimeoutException) as info:
        asyncio.run(call())
    assert info.value.limit == "deadline" and time.monotonic() - started < 2.0
    # On a busy machine the request can reach the server after its deadline: the server then
    # answers 504 without running anything, which stops the work as surely as cancelling it.
    stopped = wait_until(lambda: mixed.notes(tag) == ["started", "cancelled"], timeout=5)
    assert stopped or mixed.notes(tag) == [], mixed.notes(tag)


def test_cancelling_an_awaited_call_stops_the_servers_work(mixed):
    """Cancelled at once on every channel: tcp-msgpack's and HTTP's transports have send_async.

    On HTTP the asyncio client closes the call's connection, and the embedded server cancels
    the call when it sees the connection close.
    """
    tag = uuid.uuid4().hex

    async def call_then_cancel() -> float:
        with call_options(timeout=5.0):  # far enough that only the cancellation can stop it soon
            task = asyncio.ensure_future(mixed.sleep(30, tag))
        while "started" not in await call_in_thread(mixed.notes, tag):
            await asyncio.sleep(0.02)
        task.cancel()
        cancelled_at = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - cancelled_at < 1.0, "the caller stopped waiting at once"
        return cancelled_at

    cancelled_at = asyncio.run(call_then_cancel())
    assert wait_until(lambda: mixed.notes(tag) == ["started", "cancelled"], timeout=5), mixed.notes(tag)
    assert time.monotonic() - cancelled_at < 2.5, "the server stopped well before the deadline"


def test_an_http_caller_that_hangs_up_cancels_the_async_implementation(server, manager):
    """The embedded server tells the dispatcher when the caller's connection closes mid-call."""
    mixed = manager.get_service(MixedService, "dispatch-msgpack")
    tag = uuid.uuid4().hex
    body = MSGPACK_CODEC.encode({"args": [30, tag]})
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as caller:
        caller.sendall(
            b"POST /invoke/as-mixed-component/as-mixed/sleep HTTP/1.1\r\nHost: e2e\r\n"
            b"Content-Type: application/msgpack\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert wait_until(lambda: mixed.notes(tag) == ["started"], timeout=5)
    assert wait_until(lambda: mixed.notes(tag) == ["started", "cancelled"], timeout=2), mixed.notes(tag)


def test_a_sync_script_calls_async_methods_and_an_async_one_calls_sync_methods(mixed):
    """call_blocking needs no loop of the caller's; call_in_thread keeps the caller's loop free."""
    assert call_blocking(mixed.double, 4) == 8

    async def together() -> tuple[list[float], float]:
        started = time.monotonic()
        paused = await asyncio.gather(call_in_thread(mixed.pause, 0.3), call_in_thread(mixed.pause, 0.3))
        return list(paused), time.monotonic() - started

    paused, spent = asyncio.run(together())
    assert paused == [0.3, 0.3] and spent < 0.55


@pytest.mark.parametrize("channel", CHANNELS)
def test_async_implementations_with_sync_callers_and_the_reverse(server, registry, channel):
    """A process declaring each method the other way calls the same server across the wire."""
    result = subprocess.run(
        python_module("tests.e2e.async_client", str(registry), channel),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["double"] == 42, "a sync call of the server's async method"
    assert answers["where"]["thread"] != "", "the server ran it on an event loop"
    assert answers["add"] == 3, "an awaited call of the server's def method"
    assert answers["paused"] == [0.3, 0.3] and answers["together"] < 0.55, "two awaited calls ran at once"


def test_async_health_checks_answer_on_the_health_endpoint(server):
    """The component's `async def` health check is awaited by the server and reported."""
    answer = requests.get(f"{server.url}/health/as-mixed-component", timeout=5)
    assert answer.status_code == 200
    checks = {check["name"]: check for check in answer.json()["checks"]}
    assert checks["remote_store"]["status"] == "OK"
    assert checks["remote_store"]["details"] == "checked on a loop: True"
    assert checks["disk"]["status"] == "OK"


def test_the_command_line_calls_an_async_method_with_the_interface(server, registry, tmp_path):
    """`servicewire call --interface` awaits an async method for the shell, as it calls a def one."""
    config = tmp_path / "servicewire.json"
    config.write_text(json.dumps({"registry": {"type": "file", "path": str(registry)}}))
    for method, args, answer in (("double", "[21]", 42), ("add", "[1, 2]", 3)):
        called = subprocess.run(
            [
                *python_module("channels.cli"),
                "call",
                "--config",
                str(config),
                "--interface",
                "tests.container.async_services:MixedService",
                f"as-mixed-component.as-mixed.{method}",
                args,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout) == answer
