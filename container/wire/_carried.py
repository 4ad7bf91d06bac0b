"""Which types the codec carries: the question ``@service`` asks of every parameter and result.

The codec decodes by type hints with msgspec, so the answer is msgspec's own: its type
inspection (``msgspec.inspect.type_info``) turns a hint into a tree of what it knows (ints,
lists, unions, Structs, dataclasses, attrs classes, ...) and marks every other class a custom
type, which only the codec's hooks could build. The hooks build two: ``object`` (any plain
value, as ``Any``) and pydantic models (``model_validate``). Any other custom type (a plain
class, ``Callable``, an iterator, an awaitable, ``complex``) cannot cross the wire.
"""

from __future__ import annotations

from typing import Any

import msgspec.inspect


def uncarried(hint: Any) -> Any | None:
    """Return the part of a type hint the codec cannot carry, or None when it carries all of it.

    Args:
        hint: a resolved type hint (a parameter's or a result's).

    Returns:
        The class (``collections.abc.Callable``, ``complex``, a plain class) found at any depth
        (inside an Optional, a list, a dataclass field, ...), or ``hint`` itself when msgspec
        cannot inspect it at all (``NoReturn``, a string that was never resolved).
    """
    try:
        info = msgspec.inspect.type_info(hint)
    except Exception:  # msgspec refuses the hint itself (TypeError for NoReturn and the like)
        return hint
    return _custom_in(info, set())


def _custom_in(info: Any, seen: set[int]) -> Any | None:
    """The first custom type of a type-info tree that the codec's hooks cannot build."""
    if id(info) in seen:  # recursive types refer back to themselves
        return None
    seen.add(id(info))
    if isinstance(info, msgspec.inspect.CustomType):
        cls = info.cls
        if cls is object or callable(getattr(cls, "model_validate", None)):
            return None
        return cls
    for name in getattr(info, "__struct_fields__", ()):
        value = getattr(info, name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, (msgspec.inspect.Type, msgspec.inspect.Field)):
                found = _custom_in(item, seen)
                if found is not None:
                    return found
    return None
