"""The ``servicewire`` group: its commands, and how failures become one line and an exit status."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ._call import call_command
from ._common import user_code_importable
from ._dashboard import dashboard_command
from ._describe import describe_command
from ._exits import BAD_INPUT, INTERRUPTED, Failure, failure_of
from ._health import health_command
from ._list import list_command
from ._serve import serve_command


@click.group(
    "servicewire",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="servicewire", prog_name="servicewire", message="%(prog)s %(version)s")
def cli() -> None:
    """Serve, find, call and check servicewire services.

    Exit status: 0 done, 1 remote error (health: WARNING), 2 bad input or configuration
    (health: ERROR), 3 could not reach. Shell completion (bash):
    eval "$(_SERVICEWIRE_COMPLETE=bash_source servicewire)"
    """
    user_code_importable()  # the working directory's modules import, whatever the command


for command in (
    serve_command,
    list_command,
    call_command,
    health_command,
    describe_command,
    dashboard_command,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``servicewire`` command; returns the exit status.

    Every failure is one line on stderr, ``servicewire: <what and where>``, and a documented
    exit status (see :mod:`channels.cli._exits`); a traceback means a bug.
    """
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="servicewire", standalone_mode=False
        )
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "servicewire"
        _say(f"{where}: {exc.format_message()} (see '{where} --help')")
        return BAD_INPUT
    except click.ClickException as exc:
        _say(exc.format_message())
        return exc.exit_code
    except click.Abort:
        _say("interrupted")
        return INTERRUPTED
    except Failure as failure:
        _say(failure.message)
        return failure.status
    except Exception as exc:
        found = failure_of(exc)
        if found is None:
            raise
        _say(found.message)
        return found.status
    return result if isinstance(result, int) else 0


def _say(message: str) -> None:
    from ._output import redact_credentials

    prefix = "" if message.startswith("servicewire") else "servicewire: "
    print(f"{prefix}{redact_credentials(message)}", file=sys.stderr, flush=True)
