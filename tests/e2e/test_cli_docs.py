"""The command examples of docs/cli.md, run as written against a real `servicewire serve`."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from .processes import ROOT, python_module

CLI_DOC = ROOT / "docs" / "cli.md"


def shell_block(heading: str) -> list[str]:
    """The lines of the first code block under ``## heading`` in docs/cli.md."""
    section = CLI_DOC.read_text().split(f"\n## {heading}\n", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL)
    assert block is not None, f"docs/cli.md: no code block under '## {heading}'"
    return block.group(1).splitlines()


def command_of(line: str) -> list[str]:
    """A documented `$ servicewire ...` line as the command the tests run (python -m channels.cli)."""
    words = shlex.split(line.removeprefix("$ ").removesuffix(" &"))
    assert words[0] == "servicewire", line
    return python_module("channels.cli", *words[1:])


def test_the_documented_describe_example_prints_what_the_doc_shows(tmp_path: Path):
    """docs/cli.md, describe: the file it shows, the server it starts, the exact output it prints."""
    lines = shell_block("describe")
    assert lines[0] == "$ cat service.yml"
    commands = [index for index, line in enumerate(lines) if line.startswith("$ ")]
    (tmp_path / "service.yml").write_text("\n".join(lines[1 : commands[1]]) + "\n")
    serve, describe = lines[commands[1]], lines[commands[2]]
    assert serve.endswith(" &") and commands[2] == commands[1] + 1
    expected = lines[commands[2] + 1 :]
    # Run where service.yml is, as the reader would; samples imports from the checkout.
    env = {"PYTHONPATH": str(ROOT)}
    # Started and not waited for, as `serve ... &` then `describe` in a shell: describe waits
    # for the instance to register (up to its --timeout).
    server = subprocess.Popen(
        command_of(serve),
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = subprocess.run(
            command_of(describe),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env},
        )
    finally:
        server.terminate()
        try:
            server.wait(30)
        finally:
            server.kill()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
