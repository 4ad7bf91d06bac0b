"""Every sample in samples/ runs and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_module(module: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{module} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_hello_local_demo():
    """The in-process hello sample greets through the implementation."""
    out = run_module("samples.hello.local_demo")
    assert "Hello, world!" in out
    assert "resolved to HelloServiceImpl" in out
