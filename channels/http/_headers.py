"""Header fields of the HTTP client: the configured ones checked, the answer's read as metadata.

Both client transports (the pool and requests) send the same fields for a call (the configured
``http.headers``, the codec's ``Content-Type`` and ``Accept``, the call's metadata) and return
the same metadata for an answer: its header fields, lowercase, except those that belong to
HTTP itself (framing, caching, the server's own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from container.plugin import RESERVED_METADATA, RESERVED_RESPONSE_METADATA, TIMEOUT_KEY

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VALUE = re.compile(r"^[\x20-\x7e\t]{0,8192}$")

NOT_CONFIGURABLE = (RESERVED_METADATA - {"user-agent"}) | {TIMEOUT_KEY}
"""Header names ``http.headers`` may not set: the transport writes them for every call."""

ANSWER_NOT_METADATA = RESERVED_RESPONSE_METADATA
"""Answer header names that are HTTP's, not the answer's metadata (lowercase)."""


def check_header_fields(headers: Mapping[str, str], where: str) -> None:
    """Refuse configured header fields that could not be sent or would forge the transport's own.

    Args:
        headers: name -> value, as configured.
        where: the key they come from, for the message (the config loader prefixes the path).

    Raises:
        ValueError: a name that is not an HTTP token, a value with control characters or
            over 8 KiB, a name the transport writes itself, or ``Authorization`` (credentials
            go through ``auth.credentials``).
    """
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{where}: {name!r} is not a header field name")
        lower = name.lower()
        if lower == "authorization":
            raise ValueError(
                f"{where}: {name!r} is a credential: give it as auth.credentials (a token, or a "
                "provider function called for every call), or components.<name>.credentials"
            )
        if lower in NOT_CONFIGURABLE:
            raise ValueError(f"{where}: {name!r} is written by the transport for every call")
        if not _VALUE.match(value):
            raise ValueError(f"{where}: the value of {name!r} holds control characters or is over 8 KiB")


def answer_metadata(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return an answer's metadata from its header fields: lowercase names, HTTP's own left out.

    ``fields`` has one pair per name (urllib3 joins a field given twice with ", ", as the pool
    does).
    """
    metadata: dict[str, str] = {}
    for name, value in fields:
        lower = name.lower()
        if lower not in ANSWER_NOT_METADATA:
            metadata[lower] = value
    return metadata
