"""Building a record model from values the engine already holds, without validating them.

Every published version builds an `IncidentRecord` and its parts from the engine's own typed
state. pydantic's `model_construct` skips validation but still walks every field's alias,
validation alias and default on each call (~5 us for a 4-field model, ~40 us for the
record): a sixth of the worker's CPU per event. `construct` reads a plan made once per model
class (field order, static defaults, default factories, private attributes) and fills the
instance's dict from it: the same instance `model_construct` would build, several times
cheaper.

Only for trusted values: nothing is checked but that every required field is given and no
unknown name is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)

_MUTABLE = (list, dict, set)


class _Field(NamedTuple):
    name: str
    default: Any
    """the static default, or `PydanticUndefined` when required or built by a factory"""
    factory: Callable[[], Any] | None


class _Plan(NamedTuple):
    fields: tuple[_Field, ...]
    names: frozenset[str]
    private: dict[str, Any] | None
    """private attributes' defaults (copied into each instance), None without any"""


_PLANS: dict[type[BaseModel], _Plan] = {}


def _plan(cls: type[BaseModel]) -> _Plan:
    fields = []
    for name, info in cls.model_fields.items():
        factory = info.default_factory
        if factory is not None and info.default_factory_takes_validated_data:
            raise TypeError(f"{cls.__name__}.{name}: a factory that reads other fields")
        fields.append(_Field(name, info.default, factory))  # type: ignore[arg-type]
    private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
    plan = _Plan(tuple(fields), frozenset(cls.model_fields), private or None)
    _PLANS[cls] = plan
    return plan


def construct(cls: type[M], /, _fields_set: set[str] | None = None, **values: Any) -> M:
    """`cls.model_construct(**values)` for trusted values given by field name (not alias);
    `_fields_set` as there (one set shared by many instances saves their memory)."""
    plan = _PLANS.get(cls) or _plan(cls)
    data: dict[str, Any] = {}
    if len(values) == len(plan.fields):
        try:
            for field in plan.fields:
                data[field.name] = values[field.name]
        except KeyError:
            unknown = sorted(set(values) - plan.names)
            raise TypeError(f"{cls.__name__}: unknown fields {unknown}") from None
    else:
        for field in plan.fields:
            name = field.name
            if name in values:
                data[name] = values[name]
            elif field.factory is not None:
                data[name] = field.factory()
            elif field.default is PydanticUndefined:
                raise TypeError(f"{cls.__name__}: required field {name!r} not given")
            elif isinstance(field.default, _MUTABLE):
                data[name] = copy.deepcopy(field.default)
            else:
                data[name] = field.default
        if len(data) != len(plan.fields) or not plan.names.issuperset(values):
            unknown = sorted(set(values) - plan.names)
            raise TypeError(f"{cls.__name__}: unknown fields {unknown}")
    model = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(model, "__dict__", data)
    setattr_(model, "__pydantic_fields_set__", set(values) if _fields_set is None else _fields_set)
    setattr_(model, "__pydantic_extra__", None)
    private = plan.private
    setattr_(model, "__pydantic_private__", dict(private) if private is not None else None)
    return model


__all__ = ["construct"]
