"""Health checks: grouped in classes, cached, time-limited; a component takes the worst."""

from __future__ import annotations

import time
from abc import abstractmethod

from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    HealthStatus,
    Service,
    component,
    descriptor_of,
    health,
    health_check,
    health_checks,
    implementation,
    service,
)


@service(name="ht-service")
class HealthyService(Service):
    @abstractmethod
    def ping(self) -> str: ...


@component(name="ht-component", services=[HealthyService])
class HealthComponent(Component):
    pass


@health("/health")
@implementation()
class HealthComponentImpl(AbstractComponent, HealthComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return []


calls = {"cached": 0}


@health_checks(component=HealthComponent)
class Checks:
    def __init__(self) -> None:
        self.database_ok = True

    @health_check(name="database")
    def database(self):
        return None if self.database_ok else (HealthStatus.ERROR, "connection refused")

    @health_check(cache=60)
    def cached(self):
        calls["cached"] += 1
        return HealthStatus.OK

    @health_check(fail_if_slower_than=0.01)
    def slow(self):
        time.sleep(0.03)

    @health_check()
    def warns(self):
        return HealthStatus.WARNING, "disk 85% full"


def test_component_health_is_the_worst_of_its_checks():
    """A slow check fails, so the component is ERROR; each check reports its own result."""
    health_document = HealthComponentImpl().get_health()
    results = {r.name: r for r in health_document.results}
    assert set(results) == {"database", "cached", "slow", "warns"}
    assert results["database"].status is HealthStatus.OK
    assert results["warns"].status is HealthStatus.WARNING
    assert results["slow"].status is HealthStatus.ERROR and "limit 0.01s" in results["slow"].details
    assert health_document.status is HealthStatus.ERROR
    assert health_document.to_dict()["status"] == "ERROR"


def test_cached_check_runs_once_within_its_cache_time():
    """A check with cache=60 runs once and its result is reused."""
    before = calls["cached"]
    HealthComponentImpl().get_health()
    HealthComponentImpl().get_health()
    assert calls["cached"] - before <= 1


def test_health_endpoint_recorded():
    """@health records the endpoint on the component descriptor."""
    assert descriptor_of(HealthComponent).health_endpoint == "/health"
