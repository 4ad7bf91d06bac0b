"""The dashboard: one live page of a registry's components, instances, health and call figures.

:class:`Dashboard` builds the page's state from a ServiceManager:

- the registry's components and instances (``list_addresses``), each instance's health from
  its ``/health/<component>`` (HTTP instances only; others are shown as not probed);
- the failovers and cool-downs this process's channels saw (the manager's ``channel_events``),
  with the URLs still cooling down;
- when the instances serve metrics (``observability.metrics``, ``/metrics`` readable with this
  process's credentials), calls per second, error rate and latency percentiles per method, and
  the failovers and cool-downs each instance counted, over the last :data:`WINDOW` seconds.

The page itself is plain HTML with a little JavaScript that polls ``/dashboard/state`` (JSON)
every second: no build step, nothing fetched from elsewhere. The HTTP server serves both when
``auth.expose.dashboard`` allows it (off by default); ``servicewire dashboard`` serves them on
its own port.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from container import ChannelInstances, ServiceException, ServiceManager
from container.plugin import redact_credentials

from ._dashboard_page import PAGE
from ._probe import HttpProbe, Instance, ProbeFailed, credential_headers, instances_of, probe_problem

WINDOW = 10.0
"""Seconds over which rates and percentiles are computed."""

MIN_INTERVAL = 0.5
"""Seconds a computed state is reused: many open pages cost one round of probes."""

EVENTS_KEPT = 200

_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_METHOD_LABELS = ("side", "component", "service", "method")


class EventLog:
    """Remembers what the channels of one manager saw (a ``channel_events`` observer)."""

    def __init__(self, kept: int = EVENTS_KEPT) -> None:
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=kept)
        self._lock = threading.Lock()

    def _add(self, kind: str, channel: Any, url: str, detail: str) -> None:
        descriptor = getattr(channel, "component_descriptor", None)
        event = {
            "time": time.time(),
            "kind": kind,
            "component": descriptor.name if descriptor is not None else "",
            "channel": channel.name,
            "url": url,
            "detail": detail,
        }
        with self._lock:
            self.events.append(event)

    def failed_over(self, channel: Any, url: str, error: BaseException) -> None:
        """Record a failover away from ``url``."""
        self._add("failover", channel, url, f"{type(error).__name__}: {error}"[:300])

    def cooled_down(self, channel: Any, url: str) -> None:
        """Record the start of ``url``'s cool-down."""
        self._add("cool-down", channel, url, "")

    def addresses_changed(self, channel: Any, address: ChannelInstances | None) -> None:
        """Record a new URL list."""
        urls = address.urls if address is not None else []
        self._add("addresses", channel, "", f"{len(urls)} URL(s): {', '.join(urls)}"[:300])

    def recent(self) -> list[dict[str, Any]]:
        """Return the events, newest first."""
        with self._lock:
            return list(reversed(self.events))


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Return the samples of a Prometheus text exposition: name -> [(labels, value)]."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = {
            key: raw.replace('\\"', '"').replace("\\\\", "\\")
            for key, raw in _LABEL.findall(match.group(2) or "")
        }
        samples.setdefault(match.group(1), []).append((labels, value))
    return samples


def _figures(samples: dict[str, list[tuple[dict[str, str], float]]]) -> dict[Any, Any]:
    """The counters the dashboard needs, keyed for subtraction: (kind, key...) -> value."""
    figures: dict[Any, Any] = {}
    for labels, value in samples.get("servicewire_calls_total", []):
        key = tuple(labels.get(name, "") for name in _METHOD_LABELS)
        figures[("calls", key, labels.get("outcome", ""))] = value
    for labels, value in samples.get("servicewire_call_duration_seconds_bucket", []):
        key = tuple(labels.get(name, "") for name in _METHOD_LABELS)
        figures[("bucket", key, labels.get("le", ""))] = value
    for name, kind in (
        ("servicewire_failovers_total", "failovers"),
        ("servicewire_url_cooldowns_total", "cooldowns"),
    ):
        for labels, value in samples.get(name, []):
            figures[(kind, labels.get("component", ""), labels.get("url", ""))] = value
    return figures


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Estimate a quantile from cumulative histogram buckets (upper bound, count), as Prometheus does.

    Returns:
        Seconds, interpolated linearly inside the bucket; None without observations. A
        quantile in the last (+Inf) bucket is the largest finite bound.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return ordered[-1][0]


class _Scrapes:
    """Each instance's recent metric figures, for rates over the window."""

    def __init__(self) -> None:
        self.history: dict[str, collections.deque[tuple[float, dict[Any, Any]]]] = {}

    def add(self, url: str, when: float, figures: dict[Any, Any]) -> None:
        kept = self.history.setdefault(url, collections.deque())
        kept.append((when, figures))
        while len(kept) > 2 and when - kept[1][0] >= WINDOW:
            kept.popleft()

    def forget_except(self, urls: set[str]) -> None:
        for url in list(self.history):
            if url not in urls:
                del self.history[url]

    def deltas(self) -> tuple[dict[Any, float], dict[Any, float]]:
        """Per key: the increase over the window summed over instances, and the rate (per second)."""
        increase: dict[Any, float] = collections.defaultdict(float)
        rate: dict[Any, float] = collections.defaultdict(float)
        for kept in self.history.values():
            if len(kept) < 2:
                continue
            (old_time, old), (new_time, new) = kept[0], kept[-1]
            seconds = max(new_time - old_time, 1e-6)
            for key, value in new.items():
                before = old.get(key, 0.0)
                grown = value - before if value >= before else value  # a restart resets counters
                increase[key] += grown
                rate[key] += grown / seconds
        return increase, rate


class Dashboard:
    """The state behind the dashboard page, built from a ServiceManager.

    Args:
        manager: whose registry is listed, whose channel events are shown, and whose settings
            (``http.tls``, ``auth.credentials``) the probes use.
        probe: reads the instances' health and metrics (None: one made from the settings).
    """

    page = PAGE
    """The HTML page (UTF-8)."""

    def __init__(self, manager: ServiceManager, probe: HttpProbe | None = None) -> None:
        self.manager = manager
        self._own_probe = probe is None
        self.probe = probe or HttpProbe(manager.settings, credential_headers(manager.settings))
        self.events = EventLog()
        manager.channel_events.subscribe(self.events)
        self._scrapes = _Scrapes()
        self._lock = threading.Lock()
        self._last: tuple[float, dict[str, Any]] | None = None

    def state(self) -> dict[str, Any]:
        """Return the current state (JSON-ready); reused for :data:`MIN_INTERVAL` seconds."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < MIN_INTERVAL:
                return self._last[1]
            state = self._compute()
            self._last = (time.monotonic(), state)
            return state

    def close(self) -> None:
        """Close the probe's connections (when the dashboard made the probe)."""
        if self._own_probe:
            self.probe.close()

    def _compute(self) -> dict[str, Any]:
        registry = type(self.manager.component_registry).__name__
        error = None
        try:
            instances = instances_of(self.manager.component_registry.list_addresses())
        except ServiceException as exc:
            instances, error = [], str(exc)
        except Exception as exc:  # a third-party registry's own failure: shown, not raised
            instances, error = [], f"the registry failed: {type(exc).__name__}: {exc}"
        healths = self.probe.health_of(instances)
        metrics = self._metrics(instances)
        events = self.events.recent()
        cooling = self._cooling(events)
        increase = metrics.pop("_increase")
        components: dict[str, list[dict[str, Any]]] = {}
        for instance, health in zip(instances, healths, strict=True):
            failovers = sum(1 for e in events if e["kind"] == "failover" and e["url"] == instance.url)
            failovers += int(increase.get(("failovers", instance.component, instance.url), 0))
            components.setdefault(instance.component, []).append(
                {
                    "url": redact_credentials(instance.url),
                    "channels": list(instance.channels),
                    "health": health.status,
                    "detail": redact_credentials(health.detail),
                    "checks": list(health.checks),
                    "cooling_down": round(cooling.get((instance.component, instance.url), 0.0), 1),
                    "failovers": failovers,
                }
            )
        shown = [
            {**event, "url": redact_credentials(event["url"]), "detail": redact_credentials(event["detail"])}
            for event in events[:50]
        ]
        return {
            "time": time.time(),
            "registry": registry,
            "error": None if error is None else redact_credentials(error),
            "components": [{"name": name, "instances": found} for name, found in components.items()],
            "events": shown,
            "metrics": metrics,
        }

    def _cooling(self, events: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
        """(component, url) -> seconds of cool-down left, from this process's events."""
        now = time.time()
        left: dict[tuple[str, str], float] = {}
        for event in events:
            if event["kind"] != "cool-down":
                continue
            key = (event["component"], event["url"])
            remaining = event["time"] + self.manager.settings.component(event["component"]).cooldown - now
            if remaining > 0 and key not in left:
                left[key] = remaining
        return left

    def _metrics(self, instances: Iterable[Instance]) -> dict[str, Any]:
        urls = sorted({i.url for i in instances if probe_problem(i.url) is None})

        def scrape(url: str) -> tuple[str, dict[Any, Any] | None]:
            try:
                status, body, _ = self.probe.get(url, "/metrics")
            except ProbeFailed:
                return url, None
            if status != 200:
                return url, None
            return url, _figures(parse_metrics(body.decode("utf-8", "replace")))

        scraped = self.probe.map(scrape, urls)
        when = time.monotonic()
        read = [url for url, figures in scraped if figures is not None]
        for url, figures in scraped:
            if figures is not None:
                self._scrapes.add(url, when, figures)
        self._scrapes.forget_except(set(read))
        increase, rate = self._scrapes.deltas()
        methods: dict[tuple[str, ...], dict[str, Any]] = {}
        for key in {k[1] for k in increase if k[0] == "calls"}:
            ok, failed = increase.get(("calls", key, "ok"), 0.0), increase.get(("calls", key, "error"), 0.0)
            buckets = [
                (float("inf") if k[2] == "+Inf" else float(k[2]), value)
                for k, value in increase.items()
                if k[0] == "bucket" and k[1] == key
            ]
            total = ok + failed
            methods[key] = {
                **dict(zip(_METHOD_LABELS, key, strict=True)),
                "calls_per_second": round(
                    rate.get(("calls", key, "ok"), 0.0) + rate.get(("calls", key, "error"), 0.0), 3
                ),
                "error_rate": round(failed / total, 4) if total else 0.0,
                "p50": quantile(0.5, buckets),
                "p90": quantile(0.9, buckets),
                "p99": quantile(0.99, buckets),
            }
        return {
            "window": WINDOW,
            "instances_read": len(read),
            "instances": len(urls),
            "methods": [methods[key] for key in sorted(methods)],
            "_increase": increase,
        }


def dashboard_for(manager: ServiceManager) -> Dashboard | None:
    """Return a dashboard of ``manager`` when ``auth.expose.dashboard`` is not ``off``, else None."""
    if manager.settings.auth.expose.dashboard == "off":
        return None
    return Dashboard(manager)
