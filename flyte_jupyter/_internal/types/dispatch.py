"""Which converter a Python type gets (called once per type; `_core._conv` caches the result)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from flyte_jupyter._internal.types.blobs import _build_blob
from flyte_jupyter._internal.types.containers import (
    _build_dict,
    _build_fixed_tuple,
    _build_sequence,
)
from flyte_jupyter._internal.types.core import (
    _CACHE_PENDING,
    _Conv,
    _conv,
    _NoneType,
    register_dispatcher,
)
from flyte_jupyter._internal.types.dataframes import _build_dataframe, is_frame_type
from flyte_jupyter._internal.types.enums import _build_enum
from flyte_jupyter._internal.types.records import (
    _build_dataclass,
    _build_namedtuple,
    _build_pydantic,
    _build_typeddict,
    _is_pydantic_model,
)
from flyte_jupyter._internal.types.scalars import (
    _SCALARS,
    _build_float,
    _build_int,
    _scalar,
)
from flyte_jupyter._internal.types.unions import _build_literal, _build_union
from flyte_jupyter._internal.types.untyped import _build_any, _build_pickled_class

_EMPTY_PARAM: Any = None  # inspect.Parameter.empty, resolved lazily (inspect is slow to import)


def _build(tp: Any) -> _Conv:
    try:
        pending = _CACHE_PENDING.get(tp)
    except TypeError:  # unhashable (Annotated with a dict): never a record being built
        pending = None
    if pending is not None:
        return pending
    global _EMPTY_PARAM
    if tp is Any or tp is object:
        return _build_any(tp)
    if tp is int:
        return _build_int(tp)
    if tp is float:
        return _build_float(tp)
    is_class = isinstance(tp, type) and not isinstance(tp, types.GenericAlias)  # list[int] is a type on 3.10
    scalar = _SCALARS.get(_NoneType if tp is None else tp) if is_class or tp is None else None
    if scalar is not None:
        return _scalar(tp, *scalar)
    if isinstance(tp, str) or isinstance(tp, typing.ForwardRef) or isinstance(tp, typing.TypeVar):
        return _build_any(tp)  # unresolved annotation: nothing to check against
    if _EMPTY_PARAM is None:
        import inspect

        _EMPTY_PARAM = inspect.Parameter.empty
    if tp is _EMPTY_PARAM:
        return _build_any(tp)

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        if is_frame_type(args[0]):  # columns, format, hash method: the frame converter reads them
            return _build_dataframe(tp, args[0], tuple(tp.__metadata__))
        return _conv(args[0])
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return _build_union(tp, args)
    if origin is typing.Literal:
        return _build_literal(tp, args)
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _conv(tp.__supertype__)

    import collections.abc as cabc

    if tp is list or origin is list:
        return _build_sequence(tp, args[0] if args else Any, (list,), list)
    if origin in (cabc.Sequence, cabc.MutableSequence) or tp in (cabc.Sequence, cabc.MutableSequence):
        return _build_sequence(tp, args[0] if args else Any, (list, tuple), list)
    if tp is set or origin is set or origin is cabc.Set or origin is cabc.MutableSet:
        return _build_sequence(tp, args[0] if args else Any, (set, frozenset), set)
    if tp is frozenset or origin is frozenset:
        return _build_sequence(tp, args[0] if args else Any, (set, frozenset), frozenset)
    if tp is tuple or origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return _build_sequence(tp, args[0] if args else Any, (tuple,), tuple)
        if args == ((),):  # tuple[()]
            return _build_fixed_tuple(tp, ())
        return _build_fixed_tuple(tp, args)
    if tp is dict or origin is dict or origin in (cabc.Mapping, cabc.MutableMapping) or tp in (
        cabc.Mapping,
        cabc.MutableMapping,
    ):
        k, v = args if len(args) == 2 else (Any, Any)
        return _build_dict(tp, k, v)

    if is_class:
        if getattr(tp, "_flyte_blob_kind", None) is not None:
            return _build_blob(tp, tp)
        if issubclass(tp, enum.Enum):
            return _build_enum(tp)
        if dataclasses.is_dataclass(tp):
            return _build_dataclass(tp)
        if issubclass(tp, tuple) and hasattr(tp, "_fields"):
            return _build_namedtuple(tp)
        if typing.is_typeddict(tp) or (issubclass(tp, dict) and hasattr(tp, "__required_keys__")):
            return _build_typeddict(tp)
        if _is_pydantic_model(tp):
            return _build_pydantic(tp)
        if is_frame_type(tp):
            return _build_dataframe(tp, tp)
        return _build_pickled_class(tp, tp)
    if origin is not None and isinstance(origin, type):
        if getattr(origin, "_flyte_blob_kind", None) is not None:  # File[...] / Dir[...]
            return _build_blob(tp, origin)
        if dataclasses.is_dataclass(origin) or _is_pydantic_model(origin):
            return _conv(origin)
        return _build_pickled_class(tp, origin)
    return _build_pickled_class(tp, None)


register_dispatcher(_build)
