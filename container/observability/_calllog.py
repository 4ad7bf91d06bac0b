"""One log line per call, with the fields a structured log handler wants in ``extra``."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from ..call._calls import AsyncCallNext, Call, CallNext, Interceptor
from ..call._context import call_context, last_response
from ..values._errors import public_type_name
from ..values._redact import redact_credentials

logger = logging.getLogger("servicewire.calls")

def error_type(exc: BaseException) -> str:
    """The name an error is known by in spans, metrics and logs."""
    status_name = getattr(exc, "error_type", None)  # CallRejected: BadRequest, PermissionDenied, ...
    if isinstance(status_name, str) and status_name:
        return status_name
    remote_type = getattr(exc, "remote_type", None)  # RemoteServiceException
    if isinstance(remote_type, str) and remote_type:
        return remote_type
    return public_type_name(type(exc))


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
        with last_response() as answered:
            try:
                result = call_next(call)
            except BaseException as exc:
                self._log(call, error_type(exc), started, max(self.level, logging.WARNING), answered.url)
                raise
        if self.sample >= 1.0 or random.random() < self.sample:  # noqa: S311 - sampling, not security
            self._log(call, "ok", started, self.level, answered.url)
        return result

    async def intercept_async(self, call: Call, call_next: AsyncCallNext) -> Any:
        """:meth:`intercept` of a call of an ``async def`` method."""
        if not logger.isEnabledFor(self.level):
            return await call_next(call)
        started = time.perf_counter()
        with last_response() as answered:
            try:
                result = await call_next(call)
            except BaseException as exc:
                self._log(call, error_type(exc), started, max(self.level, logging.WARNING), answered.url)
                raise
        if self.sample >= 1.0 or random.random() < self.sample:  # noqa: S311 - sampling, not security
            self._log(call, "ok", started, self.level, answered.url)
        return result

    def _log(self, call: Any, status: str, started: float, level: int, url: str) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        method = call.method
        context = call.context
        if call.side == "server":
            served = call_context()  # as the implementation saw it: with the caller's identity
            context = served if served is not None else context
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
            fields["url"] = redact_credentials(url)
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
