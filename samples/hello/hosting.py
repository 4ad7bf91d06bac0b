"""The container module of a process that hosts the hello component.

Importing the implementation is what makes this process host it; ``servicewire serve
samples.hello.hosting:MainContainer`` and gunicorn both start from here.
"""

from __future__ import annotations

from . import implementation  # noqa: F401 - hosting: registers the implementation
from .containers import MainContainer

__all__ = ["MainContainer"]
