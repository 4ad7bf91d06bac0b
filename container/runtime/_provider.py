"""ServiceInstanceProvider: a dependency-injector provider of a service interface."""

from __future__ import annotations

from typing import Any

from dependency_injector import providers

from ..values._errors import ConfigurationException
from ._service_container import find_service_manager_provider


class _ServiceResolver(providers.Provider[Any]):  # type: ignore[misc]
    """Yields the implementation or proxy of a service through a ServiceManager."""

    __slots__ = ("_found", "_manager", "_owner", "_preferred_channel", "_service_type")

    def __init__(
        self,
        owner: ServiceInstanceProvider,
        service_type: type,
        preferred_channel: str,
        manager: Any,
    ) -> None:
        self._owner = owner
        self._service_type = service_type
        self._preferred_channel = preferred_channel
        self._manager = manager
        self._found: Any = None  # the manager provider found in the parent container, cached
        super().__init__()

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> _ServiceResolver:
        memo = {} if memo is None else memo
        copied = memo.get(id(self))
        if copied is not None:
            return copied  # type: ignore[no-any-return]
        copied = _ServiceResolver(
            providers.deepcopy(self._owner, memo),
            self._service_type,
            self._preferred_channel,
            providers.deepcopy(self._manager, memo),
        )
        memo[id(self)] = copied
        self._copy_overridings(copied, memo)
        return copied

    @property
    def related(self) -> Any:
        """The explicit manager provider, when one was given."""
        if self._manager is not None:
            yield self._manager
        yield from super().related

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager_provider = self._manager if self._manager is not None else self._found
        if manager_provider is None:
            container = self._owner.parent
            if container is None:
                raise _unplaced(self._service_type)
            manager_provider = self._found = find_service_manager_provider(container)
            manager_provider().attach_container(container)
        return manager_provider().get_service(self._service_type, self._preferred_channel)


def _unplaced(service_type: type) -> Exception:
    return ConfigurationException(
        f"ServiceInstanceProvider({service_type.__qualname__}) is not declared in a container; "
        "declare it in a container that includes a ServiceContainer, or pass manager="
    )


class ServiceInstanceProvider(providers.Dependency[Any]):  # type: ignore[misc]
    """Provides the local implementation or a remote proxy of a service interface.

    Declared in an application container that includes a ServiceContainer, the one-argument
    form finds that container's ServiceManager by itself::

        class MainContainer(containers.DeclarativeContainer):
            services = providers.Container(ServiceContainer, config={...})
            hello = ServiceInstanceProvider(HelloService)

    It behaves like any provider: ``container.hello()``, ``Provide[MainContainer.hello]``,
    ``container.hello.override(fake)``, deep copies and ``traverse()``.

    It derives from :class:`~dependency_injector.providers.Dependency` because
    dependency-injector tells only Dependency and Container providers which container they
    were declared in; that is how the one-argument form finds its sibling ServiceContainer.

    Args:
        clazz: the ``@service`` interface.
        preferred_channel: the channel to ask for ("" uses the manager's default).
        manager: a provider of the ServiceManager to use, instead of finding it.
    """

    def __init__(self, clazz: type, preferred_channel: str = "", manager: Any = None) -> None:
        super().__init__(instance_of=clazz)
        self.set_default(_ServiceResolver(self, clazz, preferred_channel, manager))

    @property
    def service_type(self) -> type:
        """The service interface this provider yields."""
        return self.instance_of  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> ServiceInstanceProvider:
        memo = {} if memo is None else memo
        copied = memo.get(id(self))
        if copied is not None:
            return copied  # type: ignore[no-any-return]
        copied = self.__class__.__new__(self.__class__)
        memo[id(self)] = copied
        resolver = self.default
        providers.Dependency.__init__(copied, instance_of=self.instance_of)
        copied.set_default(providers.deepcopy(resolver, memo))
        self._copy_parent(copied, memo)
        self._copy_overridings(copied, memo)
        return copied
