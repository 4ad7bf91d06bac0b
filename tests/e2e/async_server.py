"""A server process hosting the mixed service (`def` and `async def` methods) for the end-to-end tests.

It serves both HTTP codecs and the tcp-msgpack sample plugin (registered in code: the sample is
no distribution of this environment), registers in the file registry named by the first
argument, and prints ``serving on http://...`` once it accepts calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dependency_injector import containers, providers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples" / "tcp_channel"))

from tcp_channel import TcpMsgpackChannel

from channels.http import HttpServer
from container import AbstractComponent, ChannelAddress, ServiceContainer, implementation
from container.plugin import CHANNELS
from tests.container.async_services import MixedComponent, MixedServiceImpl

CHANNELS.register("tcp-msgpack", TcpMsgpackChannel)


@implementation()
class WiredMixedComponent(AbstractComponent, MixedComponent):
    """Offers the mixed service on both HTTP codecs and on tcp-msgpack."""

    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [
            ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}"),
            ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}"),
            ChannelAddress("tcp-msgpack", "tcp://127.0.0.1:0"),
        ]


class MixedServer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    mixed = providers.Singleton(MixedServiceImpl)
    component = providers.Singleton(WiredMixedComponent)


if __name__ == "__main__":
    container = MixedServer()
    container.config.from_dict(
        {
            "registry": {"type": "file", "path": sys.argv[1], "poll_interval": 0.05},
            "auth": {"expose": {"health_details": "open"}},  # the tests read each check
        }
    )
    HttpServer(host="127.0.0.1", port=0).serve_forever(container)
