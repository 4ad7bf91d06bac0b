"""`make demo`: the hello service resolved through a container (one process for now)."""

from __future__ import annotations

from . import local_demo

if __name__ == "__main__":
    local_demo.main()
