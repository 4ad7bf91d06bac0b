r"""Run the servicewire ASGI application under any ASGI server (uvicorn, granian).

Write a module that creates the application (the port must match the server's)::

    # myapp.py
    from channels.http.asgi import create_app

    app = create_app("samples.hello.hosting:MainContainer", port=8000)

then serve it with uvicorn or granian (one process each; more processes boot a container each)::

    uvicorn --host 127.0.0.1 --port 8000 myapp:app
    granian --interface asgi --host 127.0.0.1 --port 8000 myapp:app

The container is booted when the module is imported (in each worker process) and registers its
components. ``async def`` implementations run on the server's event loop, ``def`` ones in the
dispatcher's worker pool. When the ASGI server shuts down (``lifespan.shutdown``, after it
finished the requests in flight), the host deregisters, drains, stops its components and
closes; without the lifespan protocol, that happens when the process exits.
"""

from __future__ import annotations

import atexit
from typing import Any

from ._asgi import AsgiApplication
from ._settings import HttpSettings
from .wsgi import boot_host


def create_app(
    main_container: Any, port: int, host: str = "127.0.0.1", debug: bool = False
) -> AsgiApplication:
    """Boot a main container and return the ASGI application serving its components.

    Args:
        main_container: a container class, a container instance, a function returning a
            container, or ``"module:Name"`` naming one of these.
        port: the port the ASGI server listens on (components advertise it).
        host: the interface the ASGI server listens on.
        debug: include tracebacks in 500 answers.

    Returns:
        The ASGI application. Its components are shut down at ``lifespan.shutdown``, or when
        the process exits.
    """
    host_server = boot_host(main_container, port, host, debug)
    assert host_server.manager is not None and host_server.dispatcher is not None
    metrics = host_server.manager.observability.metrics
    application = AsgiApplication(
        host_server.dispatcher,
        host_server.manager.settings.section("http", HttpSettings).max_body_size,
        report=host_server.manager.report,
        metrics=metrics.exposition if metrics is not None else None,
        on_shutdown=host_server.shutdown,
    )
    atexit.register(host_server.shutdown)
    return application
