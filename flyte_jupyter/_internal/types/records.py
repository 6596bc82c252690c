"""Converters for records of named fields: dataclass, NamedTuple, TypedDict and pydantic models.

As in Flyte, a dict given for a task input or output where a dataclass or a pydantic model is
declared is converted (`to_literal(convert=True)`, always in `to_literal_map`): for a
dataclass its keys must be fields and each value must fit its field's type (missing fields take
their defaults; `__init__` is not run, as when a record is decoded); a pydantic model validates it
(`model_validate`, pydantic's own coercions and defaults). TypedDict keys marked `NotRequired`
(or the whole dict `total=False`) may be absent, and stay absent on the other side.

pydantic is never imported here: a model class implies it already is.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from typing import Any, Callable

from flyte_jupyter._internal.types.core import _CACHE_PENDING, _CONVERTING, _L, _Conv, _conv, note_coercion
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


def _hints(cls: Any, extras: bool = False) -> dict[str, Any]:
    """Resolved annotations of a class; unresolvable ones (e.g. a name defined later in a
    notebook) become Any instead of failing the task."""
    try:
        return typing.get_type_hints(cls, include_extras=extras)
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
    from_dict: Callable[[dict[str, Any]], tuple[Any, Callable[[Any, str], Any]]] | None = None,
) -> _Conv:
    """Shared shape of dataclass / NamedTuple / TypedDict / pydantic converters.

    `from_dict` turns a dict given for the record into (value, getter) to encode instead; it
    raises _Mismatch when the dict does not fit."""
    c = _Conv(tp)
    _CACHE_PENDING[tp] = c  # a field may refer back to this type
    try:
        fconvs = [(n, _conv(t)) for n, t in fields]
    finally:
        _CACHE_PENDING.pop(tp, None)
    by_name = dict(fconvs)
    type_name = _type_name(cls)

    def enc(v: Any, off: Any) -> pb.Literal:
        getter = get
        if not check(v):
            if from_dict is None or not isinstance(v, dict) or not _CONVERTING.on:
                raise _Mismatch(tp, v)
            v, getter = from_dict(v)
            note_coercion()
        names, values = [], []
        n = ""
        try:
            for n, fc in fconvs:
                x = getter(v, n)
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

    known = frozenset(f.name for f in flds)

    def from_dict(d: dict[str, Any]) -> tuple[Any, Callable[[Any, str], Any]]:
        unknown = [k for k in d if k not in known]
        if unknown:
            raise _Mismatch(tp, d, f"unexpected key {unknown[0]!r}; fields: {', '.join(sorted(known))}")
        out = {}
        for f in flds:
            if f.name in d:
                out[f.name] = d[f.name]
            elif f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                raise _Mismatch(tp, d, f"missing key {f.name!r}")
        return out, _item

    return _build_record(tp, cls, fields, check, getattr, make, from_dict=from_dict)


def _item(d: dict[str, Any], n: str) -> Any:
    return d[n]


def _build_namedtuple(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    fields = [(n, hints.get(n, Any)) for n in cls._fields]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    return _build_record(tp, cls, fields, check, getattr, lambda d: cls(**d))


def _build_typeddict(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls, extras=True)
    required = set(getattr(cls, "__required_keys__", frozenset(hints)))
    raw: dict[str, Any] = {}
    for klass in getattr(cls, "__orig_bases__", ()) + (cls,):
        raw.update(getattr(klass, "__annotations__", {}) or {})
    for k, t in list(hints.items()):
        # Required[...] / NotRequired[...] the class itself may not have seen: string annotations
        # (from __future__ import annotations) or Python 3.10's typing.TypedDict
        marker, inner = _requiredness(t)
        text = raw.get(k)
        text = getattr(text, "__forward_arg__", text)  # a ForwardRef holds the annotation's text
        if marker is None and isinstance(text, str):
            found = _MARKER_TEXT.match(text)
            marker = found.group(1) if found else None
        if marker is not None:
            hints[k] = inner
            (required.add if marker == "Required" else required.discard)(k)
    optional = frozenset(hints) - frozenset(required)
    fields = list(hints.items())
    allowed = frozenset(hints)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        for k in v:
            if k not in allowed:
                raise _Mismatch(tp, v, f"unexpected key {k!r}")
        return True

    def get(v: dict[str, Any], n: str) -> Any:
        return v.get(n, _ABSENT)

    return _build_record(tp, cls, fields, check, get, dict, optional)


_REQUIREDNESS = frozenset({"Required", "NotRequired", "ReadOnly"})
_MARKER_TEXT = re.compile(r"^\s*(?:[A-Za-z_][\w]*\.)*(NotRequired|Required)\[")


def _requiredness(t: Any) -> tuple[str | None, Any]:
    """('Required' | 'NotRequired' | None, the type inside) for a TypedDict value annotation,
    from typing or typing_extensions (Python 3.10's typing.TypedDict leaves them in place)."""
    marker = None
    while True:
        origin = typing.get_origin(t)
        name = getattr(origin, "_name", None) or getattr(origin, "__name__", None)
        if origin is None or name not in _REQUIREDNESS:
            return marker, t
        if name != "ReadOnly":
            marker = name
        t = typing.get_args(t)[0]


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

    def from_dict(d: dict[str, Any]) -> tuple[Any, Callable[[Any, str], Any]]:
        try:
            return cls.model_validate(d), getattr
        except Exception as exc:  # pydantic.ValidationError, without importing pydantic here
            errors = getattr(exc, "errors", None)
            first = errors()[0] if callable(errors) else None
            if first:
                where = ".".join(str(p) for p in first.get("loc", ()))
                detail = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
            else:
                detail = str(exc).splitlines()[0]
            raise _Mismatch(tp, d, detail) from None

    return _build_record(tp, cls, fields, check, getattr, make, extras=extras, from_dict=from_dict)


def _is_pydantic_model(tp: Any) -> bool:
    pyd = sys.modules.get("pydantic")  # a BaseModel subclass implies pydantic is imported
    return pyd is not None and isinstance(tp, type) and issubclass(tp, pyd.BaseModel)
