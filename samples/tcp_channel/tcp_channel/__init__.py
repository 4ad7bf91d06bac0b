"""The ``tcp-msgpack`` channel: length-prefixed MessagePack frames over persistent TCP.

A third-party servicewire channel plugin, packaged as its own distribution and found through
its entry point in the ``servicewire.channels`` group. It uses only servicewire's documented
API (``container`` and ``container.plugin``): a transport that moves bytes and a listener that
hands them to the dispatcher; servicewire's core does the rest of every call.

Frames (a big-endian length, then a MessagePack array; see ``_frames.py``)::

    request:  u32 length | [path, metadata, body]
    response: u32 length | [status, body]  or  [status, body, metadata]  (the answer's metadata)

Addresses look like ``tcp://127.0.0.1:9000``; a component may advertise port 0 and the listener
reports the port it bound.
"""

from container import Channel
from container.codec import MSGPACK_CODEC

from ._listener import TcpListener
from ._transport import TcpTransport


class TcpMsgpackChannel(Channel):
    """MessagePack calls over persistent TCP connections."""

    name = "tcp-msgpack"
    codec = MSGPACK_CODEC
    schemes = ("tcp",)
    transport = TcpTransport
    listener = TcpListener


__all__ = ["TcpListener", "TcpMsgpackChannel", "TcpTransport"]
