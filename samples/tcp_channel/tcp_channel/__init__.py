"""The ``tcp-msgpack`` channel: length-prefixed MessagePack frames over persistent TCP.

A third-party servicewire channel plugin, packaged as its own distribution and found through
its entry point in the ``servicewire.channels`` group. It uses only servicewire's public API
(``container`` and ``container.codec``).

Frames (all integers big-endian)::

    request:  u32 length | u16 path length | path "component/service/method" | call body
    response: u32 length | u16 status | result or error body

Bodies are servicewire's MessagePack call, result and error bodies (``container.codec``), so
types, errors and statuses (200, 400, 404, 413, 500) mean what they mean on the HTTP channels.
Addresses look like ``tcp://127.0.0.1:9000``; a component may advertise port 0 and the listener
reports the port it bound.
"""

from ._client import TcpMsgpackChannel

__all__ = ["TcpMsgpackChannel"]
