"""What the commands print: JSON documents, aligned tables, and a spinner while they wait.

JSON goes to stdout, one document (``--watch``: one per line); tables go to stdout and are
coloured only on a terminal; the spinner is drawn on stderr, only when stderr is a terminal and
the command is not printing JSON, and only once a wait has lasted :data:`SPINNER_DELAY`.

What the commands print about servers (tables, listings, messages) never holds a URL's
credentials: :func:`redacted` takes them out (``http://***@host``). A call's result is the
application's data and is printed as it is.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

SPINNER_DELAY = 0.3
"""Seconds a command waits on the network before the spinner appears."""

_COLOURS = {"OK": "green", "WARNING": "yellow", "ERROR": "red", "UNREACHABLE": "red"}


def redact_credentials(text: str) -> str:
    """``container.plugin.redact_credentials``, imported when first needed (``--help`` stays fast)."""
    from container.plugin import redact_credentials as redact

    return redact(text)


def redacted(document: Any) -> Any:
    """Return a JSON-ready document with the credentials of every URL in its strings redacted."""
    if isinstance(document, str):
        return redact_credentials(document)
    if isinstance(document, dict):
        return {key: redacted(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [redacted(value) for value in document]
    return document


def print_json(document: Any, pretty: bool | None = None) -> None:
    """Print ``document`` as JSON on stdout (indented on a terminal, else on one line)."""
    if pretty is None:
        pretty = sys.stdout.isatty()
    text = json.dumps(document, indent=2 if pretty else None, ensure_ascii=False, default=str)
    click.echo(text)


def status_text(status: str) -> str:
    """A health status, coloured when stdout is a terminal."""
    colour = _COLOURS.get(status)
    if colour is None or not sys.stdout.isatty():
        return status
    return click.style(status, fg=colour, bold=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows under headers, each column as wide as its widest cell (colour codes ignored)."""
    rows = [[redact_credentials(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(click.unstyle(cell)))
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell + " " * (widths[i] - len(click.unstyle(cell))) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


@contextmanager
def waiting(message: str, enabled: bool = True) -> Iterator[None]:
    """Show a spinner and ``message`` on stderr while the block runs longer than a moment.

    Nothing is drawn unless ``enabled`` and stderr is a terminal; the line is erased after.
    """
    if not enabled or not sys.stderr.isatty():
        yield
        return
    message = redact_credentials(message)
    done = threading.Event()

    def spin() -> None:
        if done.wait(SPINNER_DELAY):
            return
        frames = "|/-\\"
        count = 0
        while not done.is_set():
            sys.stderr.write(f"\r{frames[count % len(frames)]} {message}")
            sys.stderr.flush()
            count += 1
            done.wait(0.1)
        sys.stderr.write("\r" + " " * (len(message) + 2) + "\r")
        sys.stderr.flush()

    spinner = threading.Thread(target=spin, name="servicewire-spinner", daemon=True)
    spinner.start()
    try:
        yield
    finally:
        done.set()
        spinner.join()
