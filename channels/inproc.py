"""The ``local`` channel: calls the implementation hosted in this process.

It goes through the same proxy and :class:`~container.Invocation` path as a remote channel
but calls the implementation directly, without encoding anything: the in-process transport
for tests and for measuring the proxy's own cost.
"""

from __future__ import annotations

from typing import Any

from container import Channel, Invocation, NoAddressException


class LocalChannel(Channel):
    """Invokes the implementation that the channel's ServiceManager hosts."""

    name = "local"

    def invoke(self, invocation: Invocation) -> Any:
        """Call the hosted implementation's method with the invocation's arguments.

        Raises:
            NoAddressException: this process does not host the service.
        """
        service = invocation.method.service
        implementation = service.implementation
        if implementation is None or self.manager is None:
            raise NoAddressException(
                f"service {service.name!r} of component {service.component_descriptor.name!r} "
                "is not hosted in this process, so the 'local' channel cannot call it"
            )
        instance: Any = self.manager.get_instance(implementation)
        return getattr(instance, invocation.method.name)(*invocation.args, **invocation.kwargs)
