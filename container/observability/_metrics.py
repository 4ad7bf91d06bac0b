"""Prometheus metrics of calls (both sides), failovers, cool-downs and registry changes.

The call path does not go through prometheus-client's metric objects, which take a lock per
value (five per call with a histogram and a gauge): each (side, method) keeps its figures in
one small object updated under one lock per call, and a collector turns them into metric
families when ``/metrics`` is read. Failovers, cool-downs and registry changes are rare and use
prometheus-client's counters directly.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ..call._calls import AsyncCallNext, Call, CallNext, Interceptor
from ._calllog import error_type

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: the call latency histogram's buckets, from a loopback call to a slow dependency."""

_CALL_LABELS = ["side", "component", "service", "method"]


class _CallStats:
    """The figures of one method on one side."""

    __slots__ = ("active", "buckets", "errors", "labels", "lock", "ok", "total_seconds")

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.lock = threading.Lock()
        self.active: list[None] = []  # append/pop are atomic: calls in flight without a lock
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; last: +Inf
        self.total_seconds = 0.0

    def finished(self, seconds: float, error: str | None) -> None:
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self.lock:
            self.buckets[index] += 1
            self.total_seconds += seconds
            if error is None:
                self.ok += 1
            else:
                self.errors[error] = self.errors.get(error, 0) + 1


class Metrics(Interceptor):
    """Interceptor for both sides, and observer of the channels' events, counting for Prometheus.

    Metrics (labels in brackets):

    - ``servicewire_calls_total`` [side, component, service, method, outcome]: calls finished,
      ``outcome`` ``ok`` or ``error``;
    - ``servicewire_call_errors_total`` [side, component, service, method, error_type];
    - ``servicewire_call_duration_seconds`` [side, component, service, method]: a histogram;
    - ``servicewire_calls_in_flight`` [side, component, service, method];
    - ``servicewire_failovers_total`` [component, channel, url]: calls that left ``url`` for
      another instance;
    - ``servicewire_url_cooldowns_total`` [component, channel, url];
    - ``servicewire_registry_address_changes_total`` [component, channel] and
      ``servicewire_instances`` [component, channel]: the URL lists the registry pushed.

    Args:
        registry: the prometheus-client registry to count into (None: a new one, so two
            containers of a process never collide; ``.registry`` is what ``/metrics`` serves).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._stats: dict[tuple[str, Any], _CallStats] = {}
        self._stats_lock = threading.Lock()
        self.registry.register(_CallCollector(self._stats, self._stats_lock))
        url_labels = ("component", "channel", "url")
        self.failovers = Counter(
            "servicewire_failovers",
            "Calls that left a URL for another instance",
            url_labels,
            registry=self.registry,
        )
        self.cooldowns = Counter(
            "servicewire_url_cooldowns", "URLs set aside after a failure", url_labels, registry=self.registry
        )
        self.address_changes = Counter(
            "servicewire_registry_address_changes",
            "URL lists pushed by the registry",
            ("component", "channel"),
            registry=self.registry,
        )
        self.instances = Gauge(
            "servicewire_instances", "URLs known", ("component", "channel"), registry=self.registry
        )

    def _of(self, side: str, method: Any) -> _CallStats:
        key = (side, method)
        found = self._stats.get(key)
        if found is None:
            service = method.service
            with self._stats_lock:
                found = self._stats.setdefault(
                    key, _CallStats([side, service.component_descriptor.name, service.name, method.name])
                )
        return found

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Count the call, its duration and its outcome."""
        stats = self._of(call.side, call.method)  # type: ignore[attr-defined]
        active = stats.active
        active.append(None)
        started = time.perf_counter()
        try:
            result = call_next(call)
        except BaseException as exc:
            active.pop()
            stats.finished(time.perf_counter() - started, error_type(exc))
            raise
        active.pop()
        stats.finished(time.perf_counter() - started, None)
        return result

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """:meth:`intercept` of a call of an ``async def`` method."""
        stats = self._of(call.side, call.method)  # type: ignore[attr-defined]
        active = stats.active
        active.append(None)
        started = time.perf_counter()
        try:
            result = await call_next(call)
        except BaseException as exc:
            active.pop()
            stats.finished(time.perf_counter() - started, error_type(exc))
            raise
        active.pop()
        stats.finished(time.perf_counter() - started, None)
        return result

    # channel events

    def failed_over(self, channel: Any, url: str, error: BaseException) -> None:
        """Count a failover away from ``url``."""
        self.failovers.labels(_component(channel), channel.name, url).inc()

    def cooled_down(self, channel: Any, url: str) -> None:
        """Count a cool-down of ``url``."""
        self.cooldowns.labels(_component(channel), channel.name, url).inc()

    def addresses_changed(self, channel: Any, address: Any) -> None:
        """Count a new URL list and record its length."""
        component = _component(channel)
        self.address_changes.labels(component, channel.name).inc()
        self.instances.labels(component, channel.name).set(len(address.urls) if address is not None else 0)

    def exposition(self) -> tuple[bytes, str]:
        """Return the text exposition of every metric and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _CallCollector:
    """Turns the call figures into metric families when the registry is read."""

    def __init__(self, stats: dict[tuple[str, Any], _CallStats], lock: threading.Lock) -> None:
        self._stats = stats
        self._lock = lock

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        calls = CounterMetricFamily("servicewire_calls", "Calls finished", labels=[*_CALL_LABELS, "outcome"])
        errors = CounterMetricFamily(
            "servicewire_call_errors",
            "Calls that failed, by error type",
            labels=[*_CALL_LABELS, "error_type"],
        )
        latency = HistogramMetricFamily(
            "servicewire_call_duration_seconds", "Call duration", labels=_CALL_LABELS
        )
        in_flight = GaugeMetricFamily("servicewire_calls_in_flight", "Calls in progress", labels=_CALL_LABELS)
        with self._lock:
            every = list(self._stats.values())
        for stats in every:
            with stats.lock:
                ok, failed, counts, total = (
                    stats.ok,
                    dict(stats.errors),
                    list(stats.buckets),
                    stats.total_seconds,
                )
            calls.add_metric([*stats.labels, "ok"], ok)
            calls.add_metric([*stats.labels, "error"], sum(failed.values()))
            for kind, count in sorted(failed.items()):
                errors.add_metric([*stats.labels, kind], count)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            latency.add_metric(stats.labels, buckets, total)
            in_flight.add_metric(stats.labels, len(stats.active))
        yield from (calls, errors, latency, in_flight)


def _component(channel: Any) -> str:
    descriptor = channel.component_descriptor
    return descriptor.name if descriptor is not None else ""
