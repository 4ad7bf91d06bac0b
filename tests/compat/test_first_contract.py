"""Plugins written to the first plugin guide keep working on the call pipeline, under ``-W error`` too."""

from __future__ import annotations

import atexit
import itertools
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from dependency_injector import providers

from container import ChannelAddress, Server, ServiceContainer
from container.plugin import Interceptor
from container.testing import ChannelConformance, ConformanceService

from . import (
    first_contract_channel,  # noqa: F401 - registers the channel with @channel
    first_contract_unix_channel,  # noqa: F401 - registers the channel and the registry
)

ROOT = Path(__file__).resolve().parents[2]
SOCKETS = tempfile.mkdtemp(prefix="sw-unix-")
atexit.register(shutil.rmtree, SOCKETS, ignore_errors=True)
_numbers = itertools.count()


class Recorder(Interceptor):
    """Records which calls passed through it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def intercept(self, call, call_next):
        self.seen.append(call.method.path)
        return call_next(call)


class TestFirstContractChannel(ChannelConformance):
    """The whole conformance kit over the plugin as it was published for servicewire 0.1."""

    channel = "tcp-first-contract"

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress(self.channel, "tcp://127.0.0.1:0")

    def test_client_interceptors_wrap_the_old_invoke(self, servers: list[Server]) -> None:
        """Interceptors configured for a container run around the old channel's own invoke()."""
        recorder = Recorder()
        urls = self.urls_of(servers[0])
        config = {
            "registry": {"type": "static", "components": {"sw-conformance-component": {self.channel: urls}}}
        }
        container = ServiceContainer(
            config=providers.Object(config), client_interceptors=providers.List(providers.Object(recorder))
        )
        manager = container.service_manager()
        try:
            proxy = manager.get_service(ConformanceService, self.channel)
            assert proxy.echo_text("through the old contract") == "through the old contract"
        finally:
            manager.close()
        assert recorder.seen == ["sw-conformance-component/sw-conformance-service/echo_text"]


class TestFirstContractUnixChannel(ChannelConformance):
    """The kit over a first-guide channel whose addresses are socket paths (``unix:///path``)."""

    channel = "unix-first-contract"

    def address(self, port: int) -> ChannelAddress:
        return ChannelAddress(self.channel, f"unix://{SOCKETS}/s{next(_numbers)}.sock")

    def test_the_registered_urls_are_socket_paths(self, servers: list[Server]) -> None:
        """The server registers unix:///path as the plugin returned it; no host is needed."""
        urls = self.urls_of(servers[0])
        assert urls and all(url.startswith(f"unix://{SOCKETS}/") for url in urls)


FIRST_GUIDE_PROGRAM = textwrap.dedent(
    """
    import os, sys, tempfile
    from dependency_injector import providers
    from container import ChannelAddress, ListenerlessServer, ServiceContainer, channel_of
    from container.testing import ConformanceContainer, ConformanceService
    from tests.compat import first_contract_unix_channel as plugin

    path = os.path.join(tempfile.mkdtemp(prefix="sw-w-error-"), "hello.sock")
    config = {"registry": {"type": "compat-memory"}}
    server = ListenerlessServer()
    server.boot(
        ConformanceContainer(
            config=providers.Object(config),
            addresses=providers.Object(lambda port: [ChannelAddress(plugin.NAME, "unix://" + path)]),
        )
    )
    try:
        manager = ServiceContainer(config=providers.Object(config)).service_manager()
        proxy = manager.get_service(ConformanceService, plugin.NAME)
        print(proxy.echo_text("over a socket path"))
        print(channel_of(proxy).address.urls == ["unix://" + path])
        print(type(plugin.registry()).__name__)
        manager.close()
    finally:
        server.shutdown(timeout=5)
    print(os.path.exists(path))
    """
)


def test_a_first_guide_plugin_pair_runs_under_w_error():
    """The first guide's channel (unix:///path URLs) and registry (WatchList, create_registry) work.

    A separate interpreter runs with every warning an error, from the plugin's own imports
    (``from container import MethodDescriptor, WatchList, create_registry, ...``) to a call
    through a server, as servicewire 0.1's users wrote them.
    """
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", FIRST_GUIDE_PROGRAM],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:4] == ["over a socket path", "True", "SharedMemoryRegistry", "False"]
