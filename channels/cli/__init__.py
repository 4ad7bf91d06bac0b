"""The ``servicewire`` command: serve, list, call, health, describe, dashboard.

One module per command (``_serve``, ``_list``, ``_call``, ``_health``, ``_describe``,
``_dashboard``), built on click; each imports what it needs when it runs, so ``servicewire
--help`` stays fast. Every failure is one line on stderr and a documented exit status
(:mod:`channels.cli._exits`). See docs/cli.md.
"""

from ._main import cli, main
from ._settings import ServeSettings

__all__ = ["ServeSettings", "cli", "main"]
