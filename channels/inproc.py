"""The ``local`` channel: calls an implementation hosted by a ServiceManager of this process.

It goes through the same proxy, :class:`~container.Invocation`, URL selection and failover as a
remote channel, but calls the implementation directly, without encoding anything. Its URLs are
``inproc://<manager id>``, one per hosting ServiceManager, so several in-process servers (tests,
a modular monolith) behave like several instances. Exceptions that are not ServiceExceptions
arrive as :class:`~container.RemoteServiceException`, as they would from a remote channel.
"""

from __future__ import annotations

import weakref
from typing import Any

from container import (
    Channel,
    ChannelAddress,
    ComponentDescriptor,
    Invocation,
    RemoteServiceException,
    Server,
    ServiceException,
    ServiceManager,
    ServiceUnavailableException,
)


class LocalChannel(Channel):
    """Invokes the implementation hosted by the ServiceManager that the URL names."""

    name = "local"

    def __init__(self) -> None:
        super().__init__()
        # (url, method) -> (weak reference to the hosting manager, bound implementation method)
        self._bound: dict[tuple[str, Any], tuple[weakref.ref[ServiceManager], Any]] = {}

    def invoke(self, invocation: Invocation) -> Any:
        """Call the implementation at the selected ``inproc://`` URL.

        Raises:
            ServiceUnavailableException: no open ServiceManager of this process has that URL,
                or it does not host the service.
            RemoteServiceException: the implementation raised something that is not a
                ServiceException.
        """
        address = self.address
        if address is not None and len(address.urls) == 1 and not self._cooling:
            # One URL and nothing failing: the common in-process case, without the failover loop.
            try:
                return self._call(address.urls[0], invocation)
            except ServiceUnavailableException:
                pass  # let the failover path say what failed, with the cool-down bookkeeping
        return self.call_with_failover(invocation.method, lambda url: self._call(url, invocation))

    def _call(self, url: str, invocation: Invocation) -> Any:
        key = (url, invocation.method)
        cached = self._bound.get(key)
        manager = cached[0]() if cached is not None else None
        if manager is None or manager.closed:
            bound = self._resolve(url, invocation)
        else:
            bound = cached[1]  # type: ignore[index]
        try:
            return bound(*invocation.args, **invocation.kwargs)
        except ServiceException:
            raise
        except Exception as exc:
            kind = type(exc)
            raise RemoteServiceException(f"{kind.__module__}.{kind.__qualname__}", str(exc), 500) from exc

    def _resolve(self, url: str, invocation: Invocation) -> Any:
        manager = ServiceManager.find(url)
        service = invocation.method.service
        if manager is None or manager.closed or service.implementation is None:
            self._bound.pop((url, invocation.method), None)
            raise ServiceUnavailableException(
                f"no ServiceManager of this process hosts {service.name!r} at {url}", url
            )
        instance: Any = manager.get_instance(service.implementation)
        bound = getattr(instance, invocation.method.name)
        self._bound[(url, invocation.method)] = (weakref.ref(manager), bound)
        return bound

    @classmethod
    def prepare_server(
        cls, server: Server, component_descriptor: ComponentDescriptor[Any], address: ChannelAddress
    ) -> ChannelAddress:
        """Advertise the hosting manager's ``inproc://`` URL (whatever ``address`` said)."""
        assert server.manager is not None
        return ChannelAddress(cls.name, server.manager.local_uri)
