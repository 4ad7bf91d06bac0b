"""The container module of a process that hosts the hello component.

Hosting is declared here, by providing the implementation: a process built from this
``MainContainer`` hosts the hello component; one built from ``containers.MainContainer`` calls
it wherever it runs. ``servicewire serve samples.hello.hosting:MainContainer`` and gunicorn both
start from here.
"""

from __future__ import annotations

from dependency_injector import providers

from . import containers
from .implementation import HelloComponentImpl, HelloServiceImpl


class MainContainer(containers.MainContainer):
    """The application container, plus the hello implementation: it hosts the hello component."""

    hello_impl = providers.Singleton(HelloServiceImpl, greeting="Hello")
    hello_component = providers.Singleton(HelloComponentImpl)


__all__ = ["MainContainer"]
