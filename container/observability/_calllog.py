"""One log line per call, with the fields a structured log handler wants in ``extra``."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from ..call._calls import Call, CallNext, Interceptor

logger = logging.getLogger("servicewire.calls")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class CallLog(Interceptor):
    """Logs each call on logger ``servicewire.calls``: who, what, how it ended, how long.

    The message reads ``served orders-component/order-service/place ok 1.93 ms caller=alice
    trace=4bf9...``; the same fields are in the record's ``servicewire`` attribute (``extra``)
    for JSON log handlers: side, component, service, method, status, duration_ms, caller,
    trace_id, peer (server) or url (client). Failed calls are always logged, at WARNING when
    the level is lower; successful ones are sampled.

    Args:
        level: the level of a successful call's line.
        sample: the fraction of successful calls logged.
    """

    def __init__(self, level: int = logging.INFO, sample: float = 1.0) -> None:
        self.level = level
        self.sample = sample

    def intercept(self, call: Call, call_next: CallNext) -> Any:
        """Run the call, then log one line about it."""
        if not logger.isEnabledFor(self.level):
            return call_next(call)
        started = time.perf_counter()
        try:
            result = call_next(call)
        except BaseException as exc:
            from ._tracing import error_type

            self._log(call, error_type(exc), started, max(self.level, logging.WARNING))
            raise
        if self.sample >= 1.0 or random.random() < self.sample:  # noqa: S311 - sampling, not security
            self._log(call, "ok", started, self.level)
        return result

    def _log(self, call: Any, status: str, started: float, level: int) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        method = call.method
        context = call.context
        identity = context.identity
        caller = identity.subject if identity is not None else ""
        traceparent = context.metadata.get("traceparent", "")
        trace_id = traceparent.split("-")[1] if traceparent.count("-") == 3 else ""
        fields = {
            "side": call.side,
            "component": method.service.component_descriptor.name,
            "service": method.service.name,
            "method": method.name,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "caller": caller,
            "trace_id": trace_id,
        }
        if call.side == "server":
            fields["peer"] = context.peer
        else:
            fields["url"] = call.url
        verb = "served" if call.side == "server" else "called"
        logger.log(
            level,
            "%s %s %s %.2f ms%s%s",
            verb,
            method.path,
            status,
            duration_ms,
            f" caller={caller}" if caller else "",
            f" trace={trace_id}" if trace_id else "",
            extra={"servicewire": fields},
        )
