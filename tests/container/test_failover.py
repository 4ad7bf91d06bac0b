"""Channel.call_with_failover: which failures move on to the next URL, and the cool-down."""

from __future__ import annotations

import pytest

from channels.inproc import LocalChannel
from container import (
    CallInterruptedException,
    ChannelInstances,
    ServiceTimeoutException,
    ServiceUnavailableException,
    descriptor_of,
)

from .services import CalculatorService

METHODS = descriptor_of(CalculatorService).methods
ADD, COUNT = METHODS["add"], METHODS["count"]  # count is @idempotent, add is not


def channel(*urls: str, cooldown: float = 5.0) -> LocalChannel:
    instance = LocalChannel()
    instance.setup(
        descriptor_of(CalculatorService).component_descriptor, ChannelInstances("c", "local", list(urls))
    )
    instance.select_first_url()
    instance.cooldown = cooldown
    return instance


class Transport:
    """A send function that fails for chosen URLs with chosen errors, and records calls."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def __call__(self, url: str) -> str:
        self.calls.append(url)
        if url in self.failures:
            raise self.failures[url]
        return url


def test_connect_failure_moves_on_and_cools_down():
    """A URL that refuses connections is skipped, then avoided during its cool-down."""
    failing = channel("inproc://a", "inproc://b")
    send = Transport({"inproc://a": ServiceUnavailableException("refused", "inproc://a")})
    assert failing.call_with_failover(ADD, send) == "inproc://b"
    assert failing.call_with_failover(ADD, send) == "inproc://b"
    assert send.calls == ["inproc://a", "inproc://b", "inproc://b"]


def test_cooled_down_url_is_tried_again_afterwards():
    """After the cool-down the URL is tried again (and used when it works)."""
    failing = channel("inproc://a", "inproc://b", cooldown=0.0)
    send = Transport({"inproc://a": ServiceUnavailableException("refused", "inproc://a")})
    failing.call_with_failover(ADD, send)
    del send.failures["inproc://a"]
    assert failing.call_with_failover(ADD, send) == "inproc://a"


def test_interrupted_call_is_retried_only_when_idempotent():
    """A call that broke after it was sent moves on only for idempotent methods."""
    broken = {"inproc://a": CallInterruptedException("reset", "inproc://a")}
    with pytest.raises(CallInterruptedException):
        channel("inproc://a", "inproc://b").call_with_failover(ADD, Transport(broken))
    assert channel("inproc://a", "inproc://b").call_with_failover(COUNT, Transport(broken)) == "inproc://b"


def test_read_timeout_retried_only_when_idempotent_and_no_cool_down():
    """A read timeout is retried for idempotent methods and does not cool the URL down."""
    slow = {"inproc://a": ServiceTimeoutException("inproc://a", "read", 1.0)}
    target = channel("inproc://a", "inproc://b")
    with pytest.raises(ServiceTimeoutException):
        target.call_with_failover(ADD, Transport(slow))
    assert target.attempts.cooling == {}
    assert target.call_with_failover(COUNT, Transport(slow)) == "inproc://b"


def test_connect_timeout_moves_on_even_when_not_idempotent():
    """A connect timeout means nothing was sent: any method moves on."""
    refused = {"inproc://a": ServiceTimeoutException("inproc://a", "connect", 1.0)}
    assert channel("inproc://a", "inproc://b").call_with_failover(ADD, Transport(refused)) == "inproc://b"


def test_every_url_failing_raises_the_last_error():
    """When every URL fails, the caller gets the last failure."""
    down = {u: ServiceUnavailableException("refused " + u, u) for u in ("inproc://a", "inproc://b")}
    with pytest.raises(ServiceUnavailableException, match="refused inproc://b"):
        channel("inproc://a", "inproc://b").call_with_failover(ADD, Transport(down))


def test_idempotent_from_config():
    """components.<name>.methods.<service>.<method>.idempotent marks a method idempotent."""
    from dependency_injector import providers

    from container import ServiceContainer

    config = {"components": {"ct-calculator": {"methods": {"calculator-service.add": {"idempotent": True}}}}}
    manager = ServiceContainer(config=providers.Object(config)).service_manager()
    target = LocalChannel()
    target.setup(
        descriptor_of(CalculatorService).component_descriptor, ChannelInstances("c", "local", []), manager
    )
    assert target.is_idempotent(ADD)
    assert target.is_idempotent(COUNT)
    assert not target.is_idempotent(METHODS["divide"])
