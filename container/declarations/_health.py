"""Health checks: classes of check methods, run per component, worst result wins.

A health-check class is decorated with :func:`health_checks`; each check is a method decorated
with :func:`health_check`, ``def`` or ``async def``. A check returns ``None`` (healthy), a
:class:`HealthStatus`, or a ``(HealthStatus, details)`` pair; an exception it raises counts as
``ERROR`` with the exception as details. A check may cache its result for ``cache`` seconds and
fails when it takes longer than ``fail_if_slower_than`` seconds.

Async checks are awaited together (:meth:`HealthCheckManager.check_async`, what a server
runs); asked for from sync code (:meth:`HealthCheckManager.check`), they run on the event loop
the manager was given (the runtime's background loop for hosted components).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import threading
import time
from collections.abc import Callable, Coroutine
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
    """Mark a method of a :func:`health_checks` class as a health check (``def`` or ``async def``).

    Args:
        name: the check's name; the method name when empty.
        cache: seconds a result is reused before the check runs again (0: always run).
        fail_if_slower_than: seconds after which a healthy result counts as ``ERROR``
            (0: no limit); an ``async def`` check is cancelled then.

    Returns:
        The decorator.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, _CHECK_ATTRIBUTE, _CheckSpec(name or func.__name__, cache, fail_if_slower_than))
        return func

    return decorate


class _TooSlow(Exception):
    """An async check that did not finish within its ``fail_if_slower_than``."""


class _Check:
    """One check bound to its instance, with its result cache."""

    def __init__(self, spec: _CheckSpec, method: Callable[[], Any]) -> None:
        self.spec = spec
        self.method = method
        self.is_async = inspect.iscoroutinefunction(method)
        self._lock = threading.Lock()
        self._last: tuple[float, HealthResult] | None = None

    def _cached(self) -> HealthResult | None:
        last = self._last
        if self.spec.cache > 0 and last and time.monotonic() - last[0] < self.spec.cache:
            return last[1]
        return None

    def run(self) -> HealthResult:
        """Run a sync check (or return its cached result)."""
        with self._lock:
            cached = self._cached()
            if cached is not None:
                return cached
            started = time.monotonic()
            try:
                outcome = self.method()
            except Exception as exc:  # a failing check is a finding, not a crash
                outcome = exc
            return self._finish(started, outcome)

    async def run_async(self) -> HealthResult:
        """Await an async check (or return its cached result); a sync check runs as :meth:`run`."""
        if not self.is_async:
            return self.run()
        cached = self._cached()  # no lock across an await: two calls at once may both run it
        if cached is not None:
            return cached
        started = time.monotonic()
        limit = self.spec.fail_if_slower_than
        try:
            if limit > 0:
                outcome = await asyncio.wait_for(self.method(), limit)
            else:
                outcome = await self.method()
        except asyncio.TimeoutError:
            outcome = _TooSlow(f"did not finish within {limit:g}s; cancelled")
        except Exception as exc:  # a failing check is a finding, not a crash
            outcome = exc
        return self._finish(started, outcome)

    def _finish(self, started: float, outcome: object) -> HealthResult:
        result = self._result(time.monotonic() - started, outcome)
        self._last = (time.monotonic(), result)
        return result

    def _result(self, spent: float, outcome: object) -> HealthResult:
        if isinstance(outcome, _TooSlow):
            return HealthResult(self.spec.name, HealthStatus.ERROR, str(outcome))
        if isinstance(outcome, Exception):
            return HealthResult(self.spec.name, HealthStatus.ERROR, f"{type(outcome).__name__}: {outcome}")
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


CHECKS_ATTRIBUTE = "__servicewire_health_checks__"
"""The attribute ``@health_checks(component=X)`` annotates ``X`` with: the check classes declared for it."""

EVERY_COMPONENT_ATTRIBUTE = "__servicewire_every_component_checks__"
"""The attribute ``@health_checks()`` (no component) annotates ``Component`` with."""


def check_classes_for(component_type: type, provided: Callable[[type], bool] | None = None) -> list[type]:
    """Return the health-check classes that apply to a component implementation class.

    They are read from the annotations of the class and its bases (``@health_checks``
    annotates the component it names, and :class:`~container.Component` for every component),
    in declaration order, the most general first (those for every component, then those of
    the bases, then the class's own). A class declared for every component
    (``component=None``) applies only where a container provides it: any module of the
    process can declare one, and a container must not fail because of another application's
    checks.

    Args:
        component_type: the component implementation class.
        provided: whether the hosting container provides a check class (None: no container
            hosts the component, so none of the checks for every component applies).
    """
    found: list[type] = []
    for klass in reversed(component_type.__mro__):
        for check_class in vars(klass).get(EVERY_COMPONENT_ATTRIBUTE, ()):
            if provided is not None and provided(check_class) and check_class not in found:
                found.append(check_class)
    for klass in reversed(component_type.__mro__):
        for check_class in vars(klass).get(CHECKS_ATTRIBUTE, ()):
            if check_class not in found:
                found.append(check_class)
    return found


class _BrokenCheck:
    """Stands for a check class that could not be created: always ERROR, saying why."""

    is_async = False

    def __init__(self, check_class: type, error: Exception) -> None:
        self.spec = _CheckSpec(check_class.__qualname__, 0, 0)
        self._details = f"cannot create {check_class.__qualname__}: {type(error).__name__}: {error}"

    def run(self) -> HealthResult:
        return HealthResult(self.spec.name, HealthStatus.ERROR, self._details)

    async def run_async(self) -> HealthResult:
        return self.run()


Runner = Callable[[Coroutine[Any, Any, Any]], Any]
"""Runs a coroutine to its end from sync code and returns its result."""


def _run_alone(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on a loop of its own: for checks of a component no runtime hosts."""
    return asyncio.run(coroutine)


class HealthCheckManager:
    """Runs the health checks that apply to one component and combines their results.

    A hosting container builds one per hosted component with :meth:`build`, creating each
    check class through the container (so a check's own dependencies are injected).

    Args:
        checks: the checks.
        runner: runs the async checks when :meth:`check` is called from sync code (the
            hosting runtime's background loop; default: a loop of their own per call).
    """

    def __init__(
        self, checks: list[_Check] | list[_Check | _BrokenCheck], runner: Runner | None = None
    ) -> None:
        self.checks = list(checks)
        self.runner = runner or _run_alone

    @property
    def has_async(self) -> bool:
        """True when some check is an ``async def``: :meth:`check_async` awaits it where it runs."""
        return any(check.is_async for check in self.checks)

    @classmethod
    def build(
        cls, check_classes: list[type], make: Callable[[type], object], runner: Runner | None = None
    ) -> HealthCheckManager:
        """Create the checks of ``check_classes``, each class's instance made by ``make``.

        A class that cannot be created becomes a check that reports ERROR with the reason.
        """
        checks: list[_Check | _BrokenCheck] = []
        for check_class in check_classes:
            try:
                instance = make(check_class)
            except Exception as exc:  # reported in the health document, never raised
                checks.append(_BrokenCheck(check_class, exc))
                continue
            for attribute in dir(check_class):
                spec = getattr(getattr(check_class, attribute, None), _CHECK_ATTRIBUTE, None)
                if isinstance(spec, _CheckSpec):
                    checks.append(_Check(spec, getattr(instance, attribute)))
        return cls(checks, runner)  # type: ignore[arg-type]

    @classmethod
    def for_component(cls, component_type: type) -> HealthCheckManager:
        """Return a new manager of the checks that apply to ``component_type``, made with no arguments."""
        return cls.build(check_classes_for(component_type), lambda check_class: check_class())

    def check(self) -> Health:
        """Run every check (or reuse cached results) and return the combined health.

        Async checks run on the manager's runner (see the class docstring), together.
        """
        if self.has_async:
            return self.runner(self.check_async())  # type: ignore[no-any-return]
        return _combined(tuple(check.run() for check in self.checks))

    async def check_async(self) -> Health:
        """Run every check, awaiting the async ones together, and return the combined health.

        Sync checks run on the awaiting thread (keep them quick, or make them ``async def``).
        """
        results = await asyncio.gather(*(check.run_async() for check in self.checks))
        return _combined(tuple(results))


def _combined(results: tuple[HealthResult, ...]) -> Health:
    worst = max((r.status for r in results), default=HealthStatus.OK)
    return Health(worst, results)
