"""Credentials out of text: what servicewire writes to logs, error messages and the CLI's output.

A URL may carry credentials in its user-info part (``http://user:password@host``): a registry
entry written by mistake, a ``--url`` typed on the command line, a DSN in a health check's
exception. Everything servicewire writes passes such text through :func:`redact_credentials`
first, so the password reaches no log line, no error message and no terminal.
"""

from __future__ import annotations

import re

REDACTED = "***"
"""What stands in the place of a URL's user-info."""

# scheme://userinfo@ (the user-info runs to the last "@" before the host: passwords may hold "@"),
# or userinfo@host without a scheme when the user-info has a colon (user:password@host).
# Both start only where a word starts, so that a long run of letters costs one attempt, not one
# per letter (text from a registry may be hostile).
_WITH_SCHEME = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"<>@]*(?:@[^/?#\s'\"<>@]*)*@"
)
_WITHOUT_SCHEME = re.compile(r"(?<![\w/.:@-])[^\s/?#'\"<>@:]+:[^\s/?#'\"<>@]*@(?=[\w\[])")


def redact_credentials(text: str) -> str:
    """Return ``text`` with the user-info of every URL in it replaced by ``***``.

    ``http://user:secret@10.0.0.5:8000/x`` becomes ``http://***@10.0.0.5:8000/x``;
    ``user:secret@10.0.0.5:8000`` (no scheme) becomes ``***@10.0.0.5:8000``. Text without an
    ``@`` is returned as it is (the common case costs one scan for that character).
    """
    if "@" not in text:
        return text
    text = _WITH_SCHEME.sub(rf"\g<scheme>{REDACTED}@", text)
    return _WITHOUT_SCHEME.sub(f"{REDACTED}@", text)
