"""A channel plugin written to the first plugin guide keeps working on the call pipeline."""

from __future__ import annotations

from dependency_injector import providers

from container import ChannelAddress, Interceptor, Server, ServiceContainer
from container.testing import ChannelConformance, ConformanceService

from . import first_contract_channel  # noqa: F401 - registers the channel with @channel


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
