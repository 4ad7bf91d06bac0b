"""The codec's server-side decode: a valid call body (the hot path) and a refused one.

Run from the root of the tree to measure (its ``container`` is the one imported)::

    .venv/bin/python bench/codec.py
    cd /path/to/other/tree && /path/to/this/tree/.venv/bin/python /path/to/this/tree/bench/codec.py

Prints nanoseconds per ``MethodCodec.decode_call`` (best of 5 rounds) for ``hello('x')`` and for
``echo(payload)`` (41 nested nodes) in JSON and MessagePack, and for two refused bodies (a wrong
type, invalid UTF-8): the refusals go through the diagnosis that finds servicewire's words.
Compare trees in the same run, as ratios.
"""

from __future__ import annotations

import os
import sys
import timeit

sys.path.insert(0, os.getcwd())

import msgspec

from container import descriptor_of
from container.codec import JSON_CODEC, MSGPACK_CODEC, CodecError, MethodCodec
from tests.channels.services import WireService, make_payload

ROUNDS = 5


def best_ns(function, number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=ROUNDS)) / number * 1e9


def accepted(codec: MethodCodec, body: bytes):
    return lambda: codec.decode_call(body)


def refused(codec: MethodCodec, body: bytes):
    def decode() -> None:
        try:
            codec.decode_call(body)
        except CodecError:
            pass

    return decode


def main() -> None:
    methods = descriptor_of(WireService).methods
    payload = msgspec.to_builtins(make_payload())
    rows = []
    for codec in (JSON_CODEC, MSGPACK_CODEC):
        hello = MethodCodec(methods["hello"], codec)
        echo = MethodCodec(methods["echo"], codec)
        hello_body = codec.encode({"args": ["x"], "kwargs": {}})
        echo_body = codec.encode({"args": [payload], "kwargs": {}})
        rows.append((f"{codec.name} hello('x')", best_ns(accepted(hello, hello_body), 200_000)))
        rows.append((f"{codec.name} echo(payload)", best_ns(accepted(echo, echo_body), 20_000)))
        wrong = refused(hello, codec.encode({"args": [42]}))
        rows.append((f"{codec.name} refused: wrong type", best_ns(wrong, 20_000)))
        bad_utf8 = refused(hello, codec.encode({"args": ["\xff"]}).replace(b"\xc3\xbf", b"\xff\xfe"))
        rows.append((f"{codec.name} refused: invalid UTF-8", best_ns(bad_utf8, 20_000)))
    width = max(len(name) for name, _ in rows)
    for name, ns in rows:
        print(f"{name:<{width}}  {ns:9.0f} ns")


if __name__ == "__main__":
    main()
