"""Converters for records of named fields: dataclass, NamedTuple, TypedDict and pydantic models.

pydantic is never imported here: a model class implies it already is.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from typing import Any, Callable

from flyte_jupyter._internal.types.core import _CACHE_PENDING, _L, _Conv, _conv
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.types.untyped import (
    _dec_any,
    _enc_any,
    _same_class_name,
    _type_name,
)
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_ABSENT = object()


def _hints(cls: Any) -> dict[str, Any]:
    """Resolved annotations of a class; unresolvable ones (e.g. a name defined later in a
    notebook) become Any instead of failing the task."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        out = {}
        for klass in reversed(getattr(cls, "__mro__", [cls])):
            for k, v in getattr(klass, "__annotations__", {}).items():
                out[k] = Any if isinstance(v, str) else v
        return out


def _build_record(
    tp: Any,
    cls: type,
    fields: list[tuple[str, Any]],
    check: Callable[[Any], bool],
    get: Callable[[Any, str], Any],
    make: Callable[[dict[str, Any]], Any],
    optional_names: frozenset[str] = frozenset(),
    extras: Callable[[Any], dict[str, Any] | None] | None = None,
) -> _Conv:
    """Shared shape of dataclass / NamedTuple / TypedDict / pydantic converters."""
    c = _Conv(tp)
    _CACHE_PENDING[tp] = c  # a field may refer back to this type
    try:
        fconvs = [(n, _conv(t)) for n, t in fields]
    finally:
        _CACHE_PENDING.pop(tp, None)
    by_name = dict(fconvs)
    type_name = _type_name(cls)

    def enc(v: Any, off: Any) -> pb.Literal:
        if not check(v):
            raise _Mismatch(tp, v)
        names, values = [], []
        n = ""
        try:
            for n, fc in fconvs:
                x = get(v, n)
                if x is _ABSENT:
                    if n in optional_names:
                        continue
                    raise _Mismatch(tp, v, f"missing key {n!r}")
                names.append(n)
                values.append(fc.enc(x, off))
            more = extras(v) if extras is not None else None
            if more:  # e.g. a pydantic model's extra="allow" fields: no declared type
                for n, x in more.items():
                    names.append(n)
                    values.append(_enc_any(x, off))
        except _Mismatch as m:
            if m.value is not v:
                m.path.append(f".{n}" if not isinstance(v, dict) else f"[{n!r}]")
            raise
        return _L(record=pb.Record(type_name=type_name, names=names, values=values))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "record":
            return _wrong_kind(lit, c)
        r = lit.record
        out = {}
        for n, val in zip(r.names, r.values):
            fc = by_name.get(n)
            out[n] = fc.dec(val) if fc is not None else _dec_any(val)
        return make(out)

    c.enc, c.dec = enc, dec
    return c


def _build_dataclass(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    flds = dataclasses.fields(cls)
    fields = [(f.name, hints.get(f.name, Any)) for f in flds]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    def make(values: dict[str, Any]) -> Any:
        # Restore the fields as they were, without re-running __init__/__post_init__.
        obj = cls.__new__(cls)
        for n, x in values.items():
            object.__setattr__(obj, n, x)
        return obj

    return _build_record(tp, cls, fields, check, getattr, make)


def _build_namedtuple(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    fields = [(n, hints.get(n, Any)) for n in cls._fields]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    return _build_record(tp, cls, fields, check, getattr, lambda d: cls(**d))


def _build_typeddict(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    optional = frozenset(hints) - frozenset(required)
    fields = list(hints.items())
    allowed = frozenset(hints)

    def check(v: Any) -> bool:
        return isinstance(v, dict) and all(k in allowed for k in v)

    def get(v: dict[str, Any], n: str) -> Any:
        return v.get(n, _ABSENT)

    return _build_record(tp, cls, fields, check, get, dict, optional)


def _build_pydantic(tp: Any) -> _Conv:
    cls = tp
    fields = [(n, f.annotation if f.annotation is not None else Any) for n, f in cls.model_fields.items()]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    def make(values: dict[str, Any]) -> Any:
        # The values were valid when sent; construct without re-running validators.
        return cls.model_construct(**values)

    def extras(v: Any) -> dict[str, Any] | None:
        return getattr(v, "model_extra", None)

    return _build_record(tp, cls, fields, check, getattr, make, extras=extras)


def _is_pydantic_model(tp: Any) -> bool:
    pyd = sys.modules.get("pydantic")  # a BaseModel subclass implies pydantic is imported
    return pyd is not None and isinstance(tp, type) and issubclass(tp, pyd.BaseModel)
