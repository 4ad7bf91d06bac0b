"""An interface with ``async def`` and ``def`` methods, for the asyncio client and servers' tests.

It mirrors wire-test (tests/channels/services.py) with ``async def`` methods, so that the
client test matrix runs its cases over the asyncio client too (:class:`Awaited`).

``sleep`` tells another process what happened to it through the files named by
``$WIRE_NAP_MARKER``: ``started`` when it begins, ``cancelled`` when its coroutine is cancelled
(the caller's deadline passed, or the caller went away), ``finished`` when it returns.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from abc import abstractmethod
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    call_context,
    component,
    idempotent,
    implementation,
    service,
)

from .services import Account, InsufficientFunds, Node


@service(name="async-wire")
class AsyncWireService(Service):
    @abstractmethod
    async def hello(self, message: str) -> str:
        """Return the message."""

    @abstractmethod
    async def echo(self, data: Node) -> Node:
        """Return the payload."""

    @abstractmethod
    async def account(self, account: Account, bonus: int | Decimal = 0) -> Account:
        """Return the account with the bonus added to its balance."""

    @abstractmethod
    async def when(self, day: dt.date, at: dt.time, ids: tuple[uuid.UUID, ...]) -> dict[str, str]:
        """Describe the arguments."""

    @abstractmethod
    async def sleep(self, seconds: float) -> float:
        """Sleep on the loop (asyncio.sleep), then return the seconds slept."""

    @abstractmethod
    async def withdraw(self, amount: int) -> int:
        """Raise InsufficientFunds."""

    @abstractmethod
    async def crash(self) -> None:
        """Raise a plain ValueError."""

    @idempotent
    @abstractmethod
    async def whoami(self) -> str:
        """Return this process's id (idempotent: may be retried on another instance)."""

    @abstractmethod
    async def context(self) -> dict[str, str]:
        """Return the metadata the call arrived with."""

    @abstractmethod
    def add(self, a: int, b: int) -> int:
        """A plain `def` method beside the async ones."""


@component(name="async-wire-component", services=[AsyncWireService])
class AsyncWireComponent(Component):
    pass


def _mark(what: str) -> None:
    marker = os.environ.get("WIRE_NAP_MARKER")
    if marker:
        with Path(marker).open("a") as out:
            out.write(what + "\n")


@implementation()
class AsyncWireServiceImpl(AsyncWireService):
    def __init__(self) -> None:
        self.sleeps: list[str] = []

    async def hello(self, message: str) -> str:
        return message

    async def echo(self, data: Node) -> Node:
        return data

    async def account(self, account: Account, bonus: int | Decimal = 0) -> Account:
        return attrs.evolve(account, balance=account.balance + bonus)

    async def when(self, day: dt.date, at: dt.time, ids: tuple[uuid.UUID, ...]) -> dict[str, str]:
        return {"day": day.isoformat(), "at": at.isoformat(), "ids": ",".join(str(i) for i in ids)}

    async def sleep(self, seconds: float) -> float:
        self.sleeps.append("started")
        _mark("started")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.sleeps.append("cancelled")
            _mark("cancelled")
            raise
        self.sleeps.append("finished")
        _mark("finished")
        return seconds

    async def withdraw(self, amount: int) -> int:
        raise InsufficientFunds(f"cannot withdraw {amount}")

    async def crash(self) -> None:
        raise ValueError("crashed on purpose")

    async def whoami(self) -> str:
        return f"pid {os.getpid()}"

    async def context(self) -> dict[str, str]:
        current = call_context()
        return dict(current.metadata) if current is not None else {}

    def add(self, a: int, b: int) -> int:
        return a + b


@implementation()
class AsyncWireComponentImpl(AbstractComponent, AsyncWireComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [
            ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}"),
            ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}"),
        ]


class Awaited:
    """A proxy of :class:`AsyncWireService` called as a sync one: each call runs in ``asyncio.run``.

    The call's context (call options, deadlines) is the caller's, copied into the task.
    """

    def __init__(self, proxy: AsyncWireService) -> None:
        self._proxy = proxy

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._proxy, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(method(*args, **kwargs))

        return call
