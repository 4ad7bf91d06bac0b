"""Exit statuses of the ``servicewire`` command, and the one-line failure every command raises.

=====  ==================================================================================
0      done; ``health``: every instance is OK
1      ``call``: the server answered with an error (the implementation raised, 401, 403);
       ``health``: the worst instance is WARNING; ``serve``: it could not start (a port in
       use, a registry that does not answer)
2      bad input: a usage error, a configuration error, arguments that are not JSON or do
       not fit the method, a name the server does not know; ``health``: the worst instance
       is ERROR or could not be reached
3      could not reach: no address known, no connection, the deadline passed, TLS refused
130    interrupted (Ctrl-C) while waiting; ``list --watch`` and ``dashboard`` end with 0
=====  ==================================================================================
"""

from __future__ import annotations

OK = 0
REMOTE_ERROR = 1
WARNING = 1
START_FAILED = 1
BAD_INPUT = 2
CONFIG_ERROR = 2
ERROR = 2
UNREACHABLE = 3
INTERRUPTED = 130


class Failure(Exception):
    """What stops a command: printed as one line on stderr, ``servicewire: <message>``.

    Attributes:
        message: what went wrong and where.
        status: the exit status.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = one_line(message)
        self.status = status


def one_line(text: str) -> str:
    """Return ``text`` on one line (its lines joined by spaces), credentials in URLs redacted."""
    from ._output import redact_credentials

    text = redact_credentials(text)
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or "(no message)"


def failure_of(exc: BaseException) -> Failure | None:
    """Turn a servicewire exception into the command's failure; None for anything else (a bug).

    A local mistake (configuration, names, arguments) is bad input; a communication failure is
    "could not reach"; what a server answered with is a remote error, except 400 and 404 (the
    server found the input or the name wrong: bad input).
    """
    from container import (
        LocalServiceException,
        RemoteServiceException,
        ServiceCommunicationException,
        ServiceException,
    )

    if isinstance(exc, LocalServiceException):
        return Failure(str(exc), BAD_INPUT)
    if isinstance(exc, ServiceCommunicationException):
        return Failure(f"could not reach: {exc}", UNREACHABLE)
    if isinstance(exc, RemoteServiceException):
        status = BAD_INPUT if exc.status in (400, 404) else REMOTE_ERROR
        return Failure(f"remote error: {exc}", status)
    if isinstance(exc, ServiceException):  # an application exception the server raised
        return Failure(f"remote error: {type(exc).__qualname__}: {exc}", REMOTE_ERROR)
    return None
