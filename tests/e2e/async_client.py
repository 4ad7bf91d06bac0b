"""A client process holding the other-way declaration: sync calls of async methods and the reverse.

``python -m tests.e2e.async_client REGISTRY CHANNEL`` prints one JSON line: what each call
answered, and how long two awaited calls of a slow `def` method took together.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples" / "tcp_channel"))

from tcp_channel import TcpMsgpackChannel

from container import ServiceClient
from container.plugin import CHANNELS
from tests.e2e.async_views import MixedOtherWay

CHANNELS.register("tcp-msgpack", TcpMsgpackChannel)


async def awaited(mixed: MixedOtherWay) -> dict[str, object]:
    started = time.monotonic()
    paused = await asyncio.gather(mixed.pause(0.3), mixed.pause(0.3))
    return {"add": await mixed.add(1, b=2), "paused": list(paused), "together": time.monotonic() - started}


def main(registry: str, channel: str) -> None:
    config = {"registry": {"type": "file", "path": registry, "poll_interval": 0.05}}
    with ServiceClient(config) as client:
        mixed = client.get_service(MixedOtherWay, channel)
        answers = {"double": mixed.double(21), "where": mixed.where(), **asyncio.run(awaited(mixed))}
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
