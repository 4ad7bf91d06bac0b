"""A component's interface as a JSON document: what ``GET /describe/<component>`` answers.

The document lists the component's services and, for each method, its signature, its
parameters and result with their Python types (as the interface spells them) and, where
msgspec can express them, their JSON Schemas (shared definitions under ``$defs``). It is built
from the declarations alone, so a caller that cannot import the interface learns how to call
it (``servicewire describe``), and a caller that can import it gets the same document.
"""

from __future__ import annotations

import inspect
from typing import Any

import msgspec

from container import ComponentDescriptor, ServiceDescriptor
from container.plugin import MethodDescriptor

DESCRIPTION_VERSION = 1
"""The version of the document's shape (``"version"``)."""


def type_name(annotation: Any) -> str:
    """Return a type as the interface spells it: ``str``, ``list[int]``, ``myapp.orders.Order | None``."""
    if annotation is inspect.Parameter.empty:
        return "Any"
    return inspect.formatannotation(annotation)


def describe_component(component: ComponentDescriptor[Any]) -> dict[str, Any]:
    """Return the description document of a component (JSON-ready).

    Args:
        component: the component's descriptor (``descriptor_of(Component)``).
    """
    schemas: dict[str, Any] = {}
    services = [_service(service, schemas) for service in component.services]
    document: dict[str, Any] = {
        "version": DESCRIPTION_VERSION,
        "component": component.name,
        "interface": _qualified(component.type),
        "description": component.description,
        "services": services,
    }
    if schemas:
        document["$defs"] = schemas
    return document


def describe_service(service: ServiceDescriptor[Any]) -> dict[str, Any]:
    """Return the description of one service, with the ``$defs`` its schemas refer to."""
    schemas: dict[str, Any] = {}
    described = _service(service, schemas)
    if schemas:
        described["$defs"] = schemas
    return described


def _service(service: ServiceDescriptor[Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": service.name,
        "interface": _qualified(service.type),
        "description": service.description,
        "methods": [_method(method, schemas) for method in service.methods.values()],
    }


def _method(method: MethodDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    types = [method.parameter_types[p.name] for p in method.parameters] + [method.return_type]
    found = _schemas(types, schemas)
    parameters = []
    for index, parameter in enumerate(method.parameters):
        described: dict[str, Any] = {
            "name": parameter.name,
            "type": type_name(method.parameter_types[parameter.name]),
            "kind": parameter.kind.name.lower(),
            "required": parameter.default is inspect.Parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD),
        }
        if parameter.default is not inspect.Parameter.empty:
            described["default"] = _jsonable(parameter.default)
        if found is not None:
            described["schema"] = found[index]
        parameters.append(described)
    returns: dict[str, Any] = {"type": type_name(method.return_type)}
    if found is not None:
        returns["schema"] = found[-1]
    resolved = [p.replace(annotation=method.parameter_types[p.name]) for p in method.parameters]
    signature = inspect.Signature(resolved, return_annotation=method.return_type)
    doc = inspect.getdoc(getattr(method.service.type, method.name, None)) or ""
    return {
        "name": method.name,
        "path": method.path,
        "signature": f"{method.name}{signature}",
        "parameters": parameters,
        "returns": returns,
        "idempotent": method.idempotent,
        "doc": doc,
    }


def _schemas(types: list[Any], shared: dict[str, Any]) -> tuple[Any, ...] | None:
    """JSON Schemas of the types, their definitions added to ``shared``; None when msgspec cannot."""
    try:
        found, definitions = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    except (TypeError, ValueError):  # a type msgspec cannot describe (a pydantic model): types only
        return None
    shared.update(definitions)
    return found


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _jsonable(value: Any) -> Any:
    try:
        return msgspec.to_builtins(value)
    except (TypeError, ValueError):
        return repr(value)
