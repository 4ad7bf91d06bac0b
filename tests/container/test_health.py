"""Health checks: grouped in classes, cached, time-limited; a component takes the worst."""

from __future__ import annotations

import time
from abc import abstractmethod

import requests
from dependency_injector import containers, providers

from channels.http import HttpServer
from container import (
    AbstractComponent,
    ChannelAddress,
    Component,
    HealthStatus,
    Service,
    ServiceContainer,
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
    component = HealthComponentImpl()
    component.get_health()
    component.get_health()
    assert calls["cached"] - before == 1


def test_health_endpoint_recorded():
    """@health records the endpoint on the component descriptor."""
    assert descriptor_of(HealthComponent).health_endpoint == "/health"


# Checks made through the hosting container


class Repository:
    """A dependency that a health check needs."""

    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable


@service(name="ht-repo-service")
class RepoService(Service):
    @abstractmethod
    def ping(self) -> str: ...


@component(name="ht-repo-component", services=[RepoService])
class RepoComponent(Component):
    pass


@implementation()
class RepoServiceImpl(RepoService):
    def ping(self) -> str:
        return "pong"


@implementation()
class RepoComponentImpl(AbstractComponent, RepoComponent):
    def get_addresses(self, port: int) -> list[ChannelAddress]:
        return [ChannelAddress("dispatch-json", f"http://127.0.0.1:{port}")]


@health_checks(component=RepoComponent)
class RepositoryChecks:
    """Needs a Repository: the hosting container provides one."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    @health_check(name="repository")
    def repository_reachable(self):
        return None if self.repository.reachable else (HealthStatus.ERROR, "repository unreachable")


@health_checks(component=RepoComponent)
class UnbuildableChecks:
    """Needs an argument nobody provides: reported as ERROR, never as a crash."""

    def __init__(self, missing: object) -> None:
        self.missing = missing

    @health_check()
    def never_runs(self):
        return None


class RepoContainer(containers.DeclarativeContainer):
    config = providers.Configuration()
    services = providers.Container(ServiceContainer, config=config)
    repository = providers.Singleton(Repository, reachable=False)
    checks = providers.Singleton(RepositoryChecks, repository=repository)
    repo = providers.Singleton(RepoServiceImpl)


def test_checks_are_made_by_the_container_and_a_broken_one_is_an_error_in_the_document():
    """A check's dependency is injected; a check class that cannot be made reports ERROR (503)."""
    server = HttpServer()
    container = RepoContainer()
    # No authenticator: the details go to everyone only when config says so.
    details = {"expose": {"health_details": "open"}}
    container.config.from_dict({"registry": {"type": "static"}, "auth": details})
    server.boot(container)
    try:
        response = requests.get(f"http://127.0.0.1:{server.port}/health/ht-repo-component", timeout=10)
    finally:
        server.shutdown()
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["repository"] == {
        "name": "repository",
        "status": "ERROR",
        "details": "repository unreachable",
    }
    broken = checks["UnbuildableChecks"]
    assert broken["status"] == "ERROR"
    assert broken["details"].startswith("cannot create UnbuildableChecks: TypeError: ")


class DiskChecks:
    """Declared for every component (below, inside the test): applies where a container provides it."""

    @health_check(name="disk")
    def disk(self):
        return HealthStatus.ERROR, "disk full"


class RepoWithDiskChecks(RepoContainer):
    repository = providers.Singleton(Repository, reachable=True)
    checks = providers.Singleton(RepositoryChecks, repository=repository)
    disk_checks = providers.Singleton(DiskChecks)


def health_of(container: containers.DeclarativeContainer) -> tuple[int, list[str]]:
    server = HttpServer()
    details = {"expose": {"health_details": "open"}}
    container.config.from_dict({"registry": {"type": "static"}, "auth": details})
    server.boot(container)
    try:
        response = requests.get(f"http://127.0.0.1:{server.port}/health/ht-repo-component", timeout=10)
    finally:
        server.shutdown()
    return response.status_code, sorted(check["name"] for check in response.json()["checks"])


def test_checks_for_every_component_apply_only_where_a_container_provides_them():
    """Another application's `@health_checks()` in the same process makes no container unhealthy."""
    without = health_of(RepoContainer())
    health_checks()(DiskChecks)  # any module of the process may declare one, at any time
    assert health_of(RepoContainer()) == without, "a container that does not provide it: unchanged"
    status, names = health_of(RepoWithDiskChecks())
    assert status == 503 and "disk" in names, "the container that provides it: its checks count"
