"""Observability for the shop's processes: ``--trace FILE`` and ``--metrics`` on each of them.

Tracing needs ``pip install '.[otel]' opentelemetry-sdk`` in the checkout; metrics need
``pip install '.[prometheus]'`` (README: Installing). servicewire itself only uses the OpenTelemetry API:
which SDK, exporter and resource to use is the application's choice, made here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--trace`` and ``--metrics`` to a process's command line."""
    parser.add_argument("--trace", metavar="FILE", help="write this process's spans to FILE ('-': stdout)")
    parser.add_argument("--metrics", action="store_true", help="count calls; servers answer GET /metrics")


def observability_config(arguments: argparse.Namespace) -> dict[str, Any]:
    """The config sections that turn on what the command line asked for."""
    config: dict[str, Any] = {
        "observability": {"tracing": bool(arguments.trace), "metrics": bool(arguments.metrics)}
    }
    if arguments.metrics:
        # A demo on loopback: anyone may scrape. In production keep the default (authenticated)
        # and give the scraper a bearer token.
        config["auth"] = {"expose": {"metrics": "open"}}
    return config


def export_spans(service_name: str, where: str) -> None:
    """Send this process's spans to the console exporter, writing one JSON document per line."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    # The file stays open as long as the process: spans are written until it exits.
    out: TextIO = sys.stdout if where == "-" else open(where, "a", encoding="utf-8")
    exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
