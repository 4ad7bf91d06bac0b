"""Health checks: classes of check methods, run per component, worst result wins.

A health-check class is decorated with :func:`health_checks`; each check is a method decorated
with :func:`health_check`. A check returns ``None`` (healthy), a :class:`HealthStatus`, or a
``(HealthStatus, details)`` pair; an exception it raises counts as ``ERROR`` with the exception
as details. A check may cache its result for ``cache`` seconds and fails when it takes longer
than ``fail_if_slower_than`` seconds.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

_T = TypeVar("_T")

_CHECK_ATTRIBUTE = "__servicewire_health_check__"


class HealthStatus(enum.IntEnum):
    """Health of a check or a component; a larger value is worse."""

    OK = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class HealthResult:
    """The outcome of one health check.

    Attributes:
        name: the check's name.
        status: its status.
        details: a human-readable explanation, empty when healthy.
    """

    name: str
    status: HealthStatus
    details: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the result as a JSON-ready mapping."""
        out = {"name": self.name, "status": str(self.status)}
        if self.details:
            out["details"] = self.details
        return out


@attrs.frozen
class Health:
    """The health of a component: the worst status of its checks, and each check's result.

    Attributes:
        status: the worst status among ``results`` (``OK`` when there are none).
        results: one result per check.
    """

    status: HealthStatus = HealthStatus.OK
    results: tuple[HealthResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the health document served on ``/health/{component}``."""
        return {"status": str(self.status), "checks": [r.to_dict() for r in self.results]}


@attrs.frozen
class _CheckSpec:
    name: str
    cache: float
    fail_if_slower_than: float


def health_check(
    name: str = "", cache: float = 0, fail_if_slower_than: float = 0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a method of a :func:`health_checks` class as a health check.

    Args:
        name: the check's name; the method name when empty.
        cache: seconds a result is reused before the check runs again (0: always run).
        fail_if_slower_than: seconds after which a healthy result counts as ``ERROR``
            (0: no limit).

    Returns:
        The decorator.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, _CHECK_ATTRIBUTE, _CheckSpec(name or func.__name__, cache, fail_if_slower_than))
        return func

    return decorate


class _Check:
    """One check bound to its instance, with its result cache."""

    def __init__(self, spec: _CheckSpec, method: Callable[[], Any]) -> None:
        self.spec = spec
        self.method = method
        self._lock = threading.Lock()
        self._last: tuple[float, HealthResult] | None = None

    def run(self) -> HealthResult:
        with self._lock:
            now = time.monotonic()
            if self.spec.cache > 0 and self._last and now - self._last[0] < self.spec.cache:
                return self._last[1]
            result = self._run_uncached()
            self._last = (time.monotonic(), result)
            return result

    def _run_uncached(self) -> HealthResult:
        started = time.monotonic()
        try:
            outcome = self.method()
        except Exception as exc:  # a failing check is a finding, not a crash
            return HealthResult(self.spec.name, HealthStatus.ERROR, f"{type(exc).__name__}: {exc}")
        spent = time.monotonic() - started
        status, details = _interpret(self.spec.name, outcome)
        if status == HealthStatus.OK and 0 < self.spec.fail_if_slower_than < spent:
            return HealthResult(
                self.spec.name,
                HealthStatus.ERROR,
                f"took {spent:.3f}s, limit {self.spec.fail_if_slower_than:g}s",
            )
        return HealthResult(self.spec.name, status, details)


def _interpret(name: str, outcome: object) -> tuple[HealthStatus, str]:
    if outcome is None:
        return HealthStatus.OK, ""
    if isinstance(outcome, HealthStatus):
        return outcome, ""
    if isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], HealthStatus):
        return outcome[0], str(outcome[1])
    return HealthStatus.ERROR, (
        f"health check {name!r} returned {outcome!r}; expected None, a HealthStatus "
        "or a (HealthStatus, details) pair"
    )


class HealthCheckManager:
    """Runs the health checks that apply to one component and combines their results.

    Health-check classes register themselves with :func:`health_checks`. Their instances are
    created once per process with the no-argument constructor.
    """

    _classes: list[tuple[type, type | None]] = []
    _instances: dict[type, object] = {}
    _managers: dict[type, HealthCheckManager] = {}
    _lock = threading.Lock()

    def __init__(self, checks: list[_Check]) -> None:
        self.checks = checks

    @classmethod
    def register(cls, check_class: type, component: type | None) -> None:
        """Register a health-check class (used by :func:`health_checks`).

        Args:
            check_class: the class holding ``@health_check`` methods.
            component: the component type whose health it affects; every component when None.
        """
        with cls._lock:
            cls._classes.append((check_class, component))
            cls._managers.clear()

    @classmethod
    def for_component(cls, component_type: type) -> HealthCheckManager:
        """Return the manager of the checks that apply to ``component_type`` (cached)."""
        with cls._lock:
            manager = cls._managers.get(component_type)
            if manager is None:
                manager = cls(cls._collect(component_type))
                cls._managers[component_type] = manager
            return manager

    @classmethod
    def _collect(cls, component_type: type) -> list[_Check]:
        checks = []
        for check_class, component in cls._classes:
            if component is not None and not issubclass(component_type, component):
                continue
            instance = cls._instances.get(check_class)
            if instance is None:
                instance = check_class()
                cls._instances[check_class] = instance
            for attribute in dir(check_class):
                spec = getattr(getattr(check_class, attribute, None), _CHECK_ATTRIBUTE, None)
                if isinstance(spec, _CheckSpec):
                    checks.append(_Check(spec, getattr(instance, attribute)))
        return checks

    def check(self) -> Health:
        """Run every check (or reuse cached results) and return the combined health."""
        results = tuple(check.run() for check in self.checks)
        worst = max((r.status for r in results), default=HealthStatus.OK)
        return Health(worst, results)


def health_checks(component: type | None = None) -> Callable[[type[_T]], type[_T]]:
    """Declare a class whose ``@health_check`` methods contribute to component health.

    Args:
        component: the component interface or implementation whose health these checks
            affect; when None they affect every component of the process.

    Returns:
        The class decorator.
    """

    def decorate(cls: type[_T]) -> type[_T]:
        HealthCheckManager.register(cls, component)
        return cls

    return decorate
