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


def run_args(*args: str, timeout: float = 90) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_shop_demo_runs_three_processes():
    """The shop demo places an order through orders and inventory, and shows both refusals."""
    out = run_args("-m", "samples.shop.demo")
    assert "order 1: 3 x book" in out
    assert "refused through orders: book: 50 requested, 7 available" in out
    assert "refused by inventory: requested 99, available 7" in out


def test_shop_demo_observed_prints_traces_across_processes_and_scraped_metrics():
    """docs/observability.md's example: one trace per call through three processes, and /metrics."""
    out = run_args("-m", "samples.shop.demo", "--observe")
    lines = out.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("trace ")))
    assert [line.split()[:2] for line in lines[first + 1 : first + 5]] == [
        ["client", "orders/place"],
        ["server", "orders/place"],
        ["client", "inventory/reserve"],
        ["server", "inventory/reserve"],
    ]
    assert "in shop-inventory" in lines[first + 4]
    assert any("ERROR samples.shop.interfaces.OutOfStock" in line for line in lines)
    assert any(
        line.startswith("orders /metrics: server orders.place") and line.endswith(" 1") for line in lines
    )
