"""The first plugin contract (servicewire 0.1), adapted to the pipeline in one place.

A channel written to the first plugin guide overrides :meth:`Channel.invoke` (it encodes,
sends through :meth:`FirstContract.call_with_failover` and decodes by itself) and, when it
serves, the classmethods ``prepare_server`` and ``stop_server``. Such a channel keeps working:

- client side, the pipeline compiles each method's plan with its own ``invoke`` as the end of
  the chain (the client interceptors run around it), and ``call_with_failover`` is the
  pipeline's loop over the attempts (URL selection, failover, cool-downs);
- server side, :class:`FirstContractListener` makes its hooks a listener of the server:
  ``prepare_server`` for each advertised address, ``stop_server`` when the server closes its
  listeners;
- its URLs may have any shape (host:port, a socket path, an opaque name), as that guide
  allowed, unless the class declares ``url_shapes``.

Nothing else in the core knows about the first contract; a channel written to the current one
(a ``transport`` and a ``listener``) never comes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..call._transport import Listener

if TYPE_CHECKING:
    from ..call._dispatcher import Dispatcher
    from ..config._settings import Settings
    from ..declarations._descriptors import ComponentDescriptor
    from ..values._values import ChannelAddress

CORE_ATTRIBUTE = "__servicewire_core__"
"""Set (in their own namespace) on the core's classes whose methods a first-contract channel overrides."""


class FirstContract:
    """The server-side hooks of the first plugin contract, which every :class:`~container.Channel` keeps.

    (``call_with_failover``, the client side's, is the pipeline's loop over the attempts, on
    :class:`~container.Channel`.) A channel of the current contract never uses them: the core
    starts its listener and runs the whole call itself.
    """

    __servicewire_core__ = True

    @classmethod
    def prepare_server(
        cls, server: Any, component_descriptor: ComponentDescriptor[Any], address: ChannelAddress
    ) -> ChannelAddress:
        """Prepare a server side of the first plugin contract; return the address to register.

        The default registers ``address`` as it is; a channel of the first contract that listens
        by itself overrides it (see :class:`FirstContractListener`).
        """
        return address

    @classmethod
    def stop_server(cls, server: Any) -> None:
        """Stop what :meth:`prepare_server` started (first plugin contract)."""


def _overrides(cls: type, name: str) -> bool:
    """True when the class that defines ``name`` first in the MRO is not one of the core's."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return not vars(klass).get(CORE_ATTRIBUTE, False)
    return False


def uses_first_contract_server(cls: type) -> bool:
    """Return True when a channel class overrides ``prepare_server`` (the first contract's server side)."""
    return _overrides(cls, "prepare_server")


def overrides_invoke(cls: type) -> bool:
    """Return True when a channel class overrides ``invoke()``: it sends by itself (first contract)."""
    return _overrides(cls, "invoke")


def uses_first_contract(cls: type) -> bool:
    """Return True when a channel class overrides ``invoke()`` or ``prepare_server()``: the first contract."""
    return _overrides(cls, "invoke") or uses_first_contract_server(cls)


class FirstContractListener(Listener):
    """A first-contract channel's ``prepare_server`` and ``stop_server``, as a listener of one server.

    Args:
        channel_class: the channel class, which overrides ``prepare_server``.
        server: the server booting (the hooks receive it).
        dispatcher: the server's dispatcher (the first contract routes calls by itself).
        settings: the validated configuration.
    """

    def __init__(self, channel_class: Any, server: Any, dispatcher: Dispatcher, settings: Settings) -> None:
        super().__init__(dispatcher, settings)
        self.channel_class = channel_class
        self.server = server

    def listen(self, address: ChannelAddress) -> ChannelAddress:
        """Not used: the first contract's hook needs the component (see :meth:`listen_for`)."""
        raise TypeError("FirstContractListener listens through listen_for(component, address)")

    def listen_for(self, component: ComponentDescriptor[Any], address: ChannelAddress) -> ChannelAddress:
        """Call the channel's ``prepare_server`` for one advertised address; return what it gives."""
        return self.channel_class.prepare_server(self.server, component, address)  # type: ignore[no-any-return]

    def stop_accepting(self) -> None:
        """Nothing: the first contract stops everything in ``stop_server``, when the server closes."""

    def drain(self, timeout: float) -> bool:
        """Nothing to wait for here: ``stop_server`` lets the calls in progress answer."""
        return True

    def close(self) -> None:
        """Call the channel's ``stop_server``."""
        self.channel_class.stop_server(self.server)
