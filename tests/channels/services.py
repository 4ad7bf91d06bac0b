"""A service exercising every value type and failure the HTTP channels carry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import threading
import time
import uuid
from abc import abstractmethod
from decimal import Decimal
from pathlib import Path

import attrs

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    Service,
    ServiceException,
    component,
    idempotent,
    implementation,
    service,
)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Node:
    """The recursive payload of the benchmarks: scalars, four lists and children."""

    int_attr: int
    float_attr: float
    bool_attr: bool
    str_attr: str
    int_list_attr: list[int]
    float_list_attr: list[float]
    bool_list_attr: list[bool]
    str_list_attr: list[str]
    children: list[Node] = dataclasses.field(default_factory=list)


@attrs.define
class Account:
    id: uuid.UUID
    owner: str
    balance: Decimal
    opened: dt.datetime
    color: Color
    nickname: str | None = None
    tags: set[str] = attrs.field(factory=set)
    parent: Account | None = None


class InsufficientFunds(ServiceException):
    """Known on both sides: raised again as itself on the caller's side."""


def make_node(i: int, children: list[Node] | None = None) -> Node:
    return Node(
        i,
        i + 0.5,
        bool(i % 2),
        f"node-{i}",
        [i + k for k in range(5)],
        [i + k + 0.25 for k in range(5)],
        [(i + k) % 2 == 0 for k in range(5)],
        [f"s{i}-{k}" for k in range(5)],
        children or [],
    )


def make_payload() -> Node:
    """41 nodes: a root with 10 children with 3 children each."""
    counter = iter(range(1, 100))
    root = next(counter)
    kids = []
    for _ in range(10):
        child = next(counter)
        kids.append(make_node(child, [make_node(next(counter)) for _ in range(3)]))
    return make_node(root, kids)


@service(name="wire-test")
class WireService(Service):
    @abstractmethod
    def hello(self, message: str) -> str:
        """Return the message."""

    @abstractmethod
    def echo(self, data: Node) -> Node:
        """Return the payload."""

    @abstractmethod
    def account(self, account: Account, bonus: int | Decimal = 0) -> Account:
        """Return the account with the bonus added to its balance."""

    @abstractmethod
    def when(self, day: dt.date, at: dt.time, ids: tuple[uuid.UUID, ...]) -> dict[str, str]:
        """Describe the arguments."""

    @abstractmethod
    def withdraw(self, amount: int) -> int:
        """Raise InsufficientFunds."""

    @abstractmethod
    def crash(self) -> None:
        """Raise a plain ValueError."""

    @abstractmethod
    def sleep(self, seconds: float) -> float:
        """Sleep, then return the seconds slept."""

    @idempotent
    @abstractmethod
    def whoami(self) -> str:
        """Return this process's id (idempotent: may be retried on another instance)."""


@component(name="wire-component", services=[WireService])
class WireComponent(Component):
    pass


@implementation()
class WireServiceImpl(WireService):
    def __init__(self) -> None:
        self.executed: list[str] = []
        self.lock = threading.Lock()

    def _record(self, name: str) -> None:
        with self.lock:
            self.executed.append(name)

    def hello(self, message: str) -> str:
        self._record("hello")
        return message

    def echo(self, data: Node) -> Node:
        return data

    def account(self, account: Account, bonus: int | Decimal = 0) -> Account:
        return attrs.evolve(account, balance=account.balance + bonus)

    def when(self, day: dt.date, at: dt.time, ids: tuple[uuid.UUID, ...]) -> dict[str, str]:
        return {"day": day.isoformat(), "at": at.isoformat(), "ids": ",".join(str(i) for i in ids)}

    def withdraw(self, amount: int) -> int:
        raise InsufficientFunds(f"cannot withdraw {amount}")

    def crash(self) -> None:
        raise ValueError("crashed on purpose")

    def sleep(self, seconds: float) -> float:
        self._record("sleep")
        marker = os.environ.get("WIRE_SLEEP_MARKER")
        if marker:  # lets a test in another process know the call is being executed
            Path(marker).write_text("sleeping")
        time.sleep(seconds)
        return seconds

    def whoami(self) -> str:
        return f"pid {os.getpid()}"

    def secret(self) -> str:
        """Not in the interface: must never be reachable."""
        self._record("secret")
        return "secret"


@implementation()
class WireComponentImpl(AbstractComponent, WireComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [
            ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}"),
            ChannelAddress("dispatch-msgpack", f"http://127.0.0.1:{port}"),
        ]
