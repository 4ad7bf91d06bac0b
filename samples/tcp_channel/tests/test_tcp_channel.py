"""The plugin passes servicewire's conformance kit, found through its installed entry point."""

from __future__ import annotations

from container import ChannelAddress
from container.plugin import CHANNELS
from container.testing import ChannelConformance


def test_found_through_the_entry_point():
    """Servicewire finds the channel by name in the servicewire.channels entry points."""
    assert CHANNELS.distribution_of("tcp-msgpack") == "servicewire-tcp-channel"
    assert CHANNELS.get("tcp-msgpack").__module__.startswith("tcp_channel")


class TestTcpMsgpackChannel(ChannelConformance):
    """The whole channel kit over tcp-msgpack (the listener picks its port)."""

    channel = "tcp-msgpack"
    cancels_promptly = True  # send_async closes a cancelled exchange; the listener cancels the call

    def address(self, port: int) -> ChannelAddress:
        """Advertise port 0: the plugin's listener binds a free port and reports it."""
        return ChannelAddress("tcp-msgpack", "tcp://127.0.0.1:0")
