"""The embedded server's byte budget: the request bodies and unsent answers it holds, in all and per peer.

Every connection holds memory the client decides: the body of a request being received, the
requests received and not yet answered, and answers the client has not taken yet (held until
``write_timeout``). Without a bound, forty connections from one address that each upload an
8 MiB call to an echo and never read hold over 600 MiB. :class:`BufferBudget` counts those
bytes for the whole server (``http.max_buffered``) and per client address
(``http.max_buffered_per_peer``), as nginx bounds its buffers: a request whose body would take
either past its limit is refused with 503 as soon as its head says so (before any of the body is
read), or as its bytes arrive, which are counted only then (a head alone holds nothing), so the
caller learns at once that the call did not run and may go elsewhere. Answers are counted
too, but never refused once computed: an address whose unsent answers fill its budget gets 503
for its next request with a body.

Nothing here does I/O or locking: each engine counts on its one loop thread.
"""

from __future__ import annotations

__all__ = ["BufferAccount", "BufferBudget"]


class BufferBudget:
    """The bytes the server buffers, against a limit in all and per client address.

    Args:
        total: the most bytes buffered for every connection together.
        per_peer: the most bytes buffered for the connections of one client address.
    """

    __slots__ = ("by_peer", "per_peer", "total", "used")

    def __init__(self, total: int, per_peer: int) -> None:
        self.total = total
        self.per_peer = per_peer
        self.used = 0
        self.by_peer: dict[str, int] = {}

    def account(self, address: str) -> BufferAccount:
        """Return the account of one connection from ``address``."""
        return BufferAccount(self, address)

    def refusal(self, address: str, size: int) -> str | None:
        """Say why ``size`` more bytes for ``address`` do not fit, or None when they do."""
        if self.by_peer.get(address, 0) + size > self.per_peer:
            return (
                "the server holds as many bytes for this client as http.max_buffered_per_peer "
                f"allows ({self.per_peer})"
            )
        if self.used + size > self.total:
            return f"the server holds as many bytes as http.max_buffered allows ({self.total})"
        return None

    def _add(self, address: str, size: int) -> None:
        self.used += size
        left = self.by_peer.get(address, 0) + size
        if left > 0:
            self.by_peer[address] = left
        else:
            self.by_peer.pop(address, None)


class BufferAccount:
    """What one connection holds: request bodies taken with :meth:`take`, unsent answer bytes.

    Attributes:
        held: the bytes of request bodies counted now.
        unsent: the answer bytes not yet sent, as last told (:meth:`set_unsent`).
    """

    __slots__ = ("address", "budget", "held", "unsent")

    def __init__(self, budget: BufferBudget, address: str) -> None:
        self.budget = budget
        self.address = address
        self.held = 0
        self.unsent = 0

    def take(self, size: int) -> str | None:
        """Count ``size`` bytes of a request body; return why they do not fit (then nothing is counted)."""
        refused = self.budget.refusal(self.address, size)
        if refused is None:
            self.held += size
            self.budget._add(self.address, size)
        return refused

    def refusal(self, size: int) -> str | None:
        """Say why ``size`` more bytes would not fit now, or None when they would (nothing is counted)."""
        return self.budget.refusal(self.address, size)

    def give_back(self, size: int) -> None:
        """Stop counting ``size`` bytes of request bodies (answered, or dropped)."""
        size = min(size, self.held)
        self.held -= size
        self.budget._add(self.address, -size)

    def set_unsent(self, size: int) -> None:
        """Count ``size`` unsent answer bytes for this connection (instead of what was told before)."""
        if size != self.unsent:
            self.budget._add(self.address, size - self.unsent)
            self.unsent = size

    def close(self) -> None:
        """The connection closed: stop counting everything it held."""
        self.give_back(self.held)
        self.set_unsent(0)
