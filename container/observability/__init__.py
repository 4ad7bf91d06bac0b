"""Traces, metrics and call logs for every call on every channel, as pipeline interceptors.

Turn them on in config (``observability``: ``tracing``, ``metrics``, ``call_log``) or put the
interceptors in a container yourself (``Tracing()``, ``Metrics()``, ``CallLog()``). Tracing needs
servicewire's ``otel`` extra (opentelemetry-api; the SDK or another implementation is the
application's choice), metrics need its ``prometheus`` extra; both are imported only when
turned on, so they cost nothing otherwise. See docs/observability.md.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ..values._errors import ConfigurationException
from ..values._public import publish
from ._calllog import LEVELS, CallLog

if TYPE_CHECKING:
    from ..config._settings import Settings
    from ._metrics import Metrics
    from ._tracing import Tracing

__all__ = ["CallLog", "Metrics", "Observability", "Tracing"]

_OPTIONAL = {"Tracing": "._tracing", "Metrics": "._metrics"}
"""Interceptors that import an optional library (OpenTelemetry, prometheus-client): loaded when asked for."""


def _optional(name: str) -> Any:
    """Import an optional interceptor class; its ``__module__`` becomes this public module."""
    cls = getattr(importlib.import_module(_OPTIONAL[name], __name__), name)
    publish({name: cls}, [name], __name__)
    return cls


def __getattr__(name: str) -> Any:
    if name in _OPTIONAL:
        return _optional(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Observability:
    """The interceptors and exporters that one ServiceManager's ``observability`` config asks for.

    Args:
        settings: the validated configuration.

    Raises:
        ConfigurationException: tracing or metrics are on and their extra is not installed, or
            the metrics port cannot be bound.
    """

    def __init__(self, settings: Settings) -> None:
        config = settings.observability
        self.tracing: Tracing | None = None
        self.metrics: Metrics | None = None
        self._exporter: Any = None
        if config.tracing:
            try:
                tracing = _optional("Tracing")
            except ImportError:
                raise ConfigurationException(
                    "config key 'observability.tracing' needs OpenTelemetry: install servicewire's otel "
                    "extra from your checkout (pip install '.[otel]'; README: Installing) or "
                    "opentelemetry-api itself"
                ) from None
            self.tracing = tracing(settings.extensions.get("otel.tracer_provider"))
        if config.metrics:
            try:
                metrics = _optional("Metrics")
            except ImportError:
                raise ConfigurationException(
                    "config key 'observability.metrics' needs prometheus-client: install "
                    "servicewire's prometheus extra from your checkout (pip install '.[prometheus]'; "
                    "README: Installing) or prometheus-client itself"
                ) from None
            self.metrics = metrics(settings.extensions.get("prometheus.registry"))
            if config.metrics_port is not None:
                self._exporter = _start_exporter(self.metrics, config.metrics_host, config.metrics_port)
        log = config.call_log
        self._logs = {
            side: CallLog(LEVELS[getattr(log, side)], log.sample)
            for side in ("client", "server")
            if getattr(log, side) != "off"
        }

    def interceptors(self, side: str) -> list[Any]:
        """Return the interceptors of one side, outermost first: tracing, metrics, call log.

        The call log is included only while logger ``servicewire.calls`` is enabled for its
        level (configure logging before the server boots), so it costs nothing otherwise.
        """
        found: list[Any] = [i for i in (self.tracing, self.metrics) if i is not None]
        log = self._logs.get(side)
        if log is not None and logging.getLogger("servicewire.calls").isEnabledFor(log.level):
            found.append(log)
        return found

    @property
    def exporter_port(self) -> int | None:
        """The port of prometheus-client's own HTTP server, when one was started."""
        return int(self._exporter.server_port) if self._exporter is not None else None

    def exposition(self) -> tuple[bytes, str] | None:
        """Return the metrics' text exposition and content type, or None when metrics are off."""
        return self.metrics.exposition() if self.metrics is not None else None

    def close(self) -> None:
        """Stop prometheus-client's HTTP server, if one was started."""
        if self._exporter is not None:
            self._exporter.shutdown()
            self._exporter.server_close()
            self._exporter = None


def _start_exporter(metrics: Metrics, host: str, port: int) -> Any:
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigurationException(
            f"config key 'observability.metrics_port': cannot serve metrics on {host}:{port}: {exc}"
        ) from exc
    return server


publish(globals(), ["CallLog", "Observability"], __name__)
