"""Prometheus metrics of calls (both sides), failovers, cool-downs and registry changes."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .._calls import Call, CallNext, Interceptor
from ._tracing import error_type

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: the call latency histogram's buckets, from a loopback call to a slow dependency."""

_CALL_LABELS = ("side", "component", "service", "method")


class Metrics(Interceptor):
    """Interceptor for both sides, and observer of the channels' events, counting into Prometheus.

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
        r = self.registry
        self.calls = Counter("servicewire_calls", "Calls finished", (*_CALL_LABELS, "outcome"), registry=r)
        self.errors = Counter(
            "servicewire_call_errors",
            "Calls that failed, by error type",
            (*_CALL_LABELS, "error_type"),
            registry=r,
        )
        self.latency = Histogram(
            "servicewire_call_duration_seconds",
            "Call duration",
            _CALL_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("servicewire_calls_in_flight", "Calls in progress", _CALL_LABELS, registry=r)
        url_labels = ("component", "channel", "url")
        self.failovers = Counter(
            "servicewire_failovers", "Calls that left a URL for another instance", url_labels, registry=r
        )
        self.cooldowns = Counter(
            "servicewire_url_cooldowns", "URLs set aside after a failure", url_labels, registry=r
        )
        self.address_changes = Counter(
            "servicewire_registry_address_changes",
            "URL lists pushed by the registry",
            ("component", "channel"),
            registry=r,
        )
        self.instances = Gauge("servicewire_instances", "URLs known", ("component", "channel"), registry=r)
        self._children: dict[tuple[str, Any], tuple[Any, Any, Any, tuple[str, ...]]] = {}

    def _of(self, side: str, method: Any) -> tuple[Any, Any, Any, tuple[str, ...]]:
        key = (side, method)
        found = self._children.get(key)
        if found is None:
            service = method.service
            labels = (side, service.component_descriptor.name, service.name, method.name)
            found = self._children[key] = (
                self.calls.labels(*labels, "ok"),
                self.latency.labels(*labels),
                self.in_flight.labels(*labels),
                labels,
            )
        return found

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Count the call, its duration and its outcome."""
        ok, latency, in_flight, labels = self._of(call.side, call.method)  # type: ignore[attr-defined]
        in_flight.inc()
        started = time.perf_counter()
        try:
            result = call_next(call)
        except BaseException as exc:
            latency.observe(time.perf_counter() - started)
            self.calls.labels(*labels, "error").inc()
            self.errors.labels(*labels, error_type(exc)).inc()
            raise
        finally:
            in_flight.dec()
        latency.observe(time.perf_counter() - started)
        ok.inc()
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


def _component(channel: Any) -> str:
    descriptor = channel.component_descriptor
    return descriptor.name if descriptor is not None else ""
