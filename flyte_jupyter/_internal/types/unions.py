"""Converters for Optional, Union (tagged with the member when there are several) and Literal."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _CONVERTING, _L, _NONE, _Conv, _conv, _NoneType, note_coercion
from flyte_jupyter._internal.types.errors import _Mismatch, _type_repr
from flyte_jupyter._internal.types.offload import _fetch
from flyte_jupyter._internal.types.untyped import _dec_any, _enc_any
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


def _build_union(tp: Any, args: tuple[Any, ...]) -> _Conv:
    c = _Conv(tp)
    has_none = _NoneType in args
    members = [a for a in args if a is not _NoneType]
    if len(members) == 1:  # Optional[X]: no tag needed, None has its own literal
        inner = _conv(members[0])

        def enc_opt(v: Any, off: Any) -> pb.Literal:
            if v is None:
                return _NONE
            try:
                return inner.enc(v, off)
            except _Mismatch as m:
                if not m.path:
                    raise _Mismatch(tp, v, m.detail) from None
                raise

        def dec_opt(lit: pb.Literal) -> Any:
            if lit.WhichOneof("value") == "none":
                return None
            return inner.dec(lit)

        c.enc, c.dec = enc_opt, dec_opt
        return c

    convs = [_conv(m) for m in members]
    tags = [_type_repr(m) for m in members]
    exact = {m: i for i, m in enumerate(members) if isinstance(m, type)}

    def enc(v: Any, off: Any) -> pb.Literal:
        if v is None and has_none:
            return _NONE
        i = exact.get(type(v))
        if i is not None:
            try:
                return _L(union=pb.UnionValue(index=i, tag=tags[i], value=convs[i].enc(v, off)))
            except _Mismatch:
                pass
        for i, cv in enumerate(convs):
            try:
                return _L(union=pb.UnionValue(index=i, tag=tags[i], value=cv.enc(v, off)))
            except _Mismatch:
                continue
        raise _Mismatch(tp, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "none":
            return None
        if k == "union":
            u = lit.union
            if u.index < len(convs) and tags[u.index] == u.tag:
                return convs[u.index].dec(u.value)
            if u.tag in tags:  # the annotation's member order changed
                return convs[tags.index(u.tag)].dec(u.value)
            return _dec_any(u.value)
        if k == "offloaded":
            return dec(_fetch(lit.offloaded))
        return _dec_any(lit)

    c.enc, c.dec = enc, dec
    return c


def _build_literal(tp: Any, args: tuple[Any, ...]) -> _Conv:
    """`Literal[...]`: the value must be one of the arguments. Enum members travel as enum
    literals of their class; the plain value of a member (`"red"` for `Color.RED = "red"`) is
    accepted too and becomes the member (Flyte passes such a Literal as an untyped value)."""
    import enum

    c = _Conv(tp)
    allowed = {(type(a), a) for a in args}
    members = [a for a in args if isinstance(a, enum.Enum)]
    by_value: dict[tuple[type, Any], Any] = {}
    for m in members:
        try:
            by_value.setdefault((type(m.value), m.value), m)
        except TypeError:  # an unhashable member value
            pass
    enum_convs = {type(m): _conv(type(m)) for m in members}
    by_type_name = {cv.enc(m, None).enum.type_name: cv for m, cv in ((m, enum_convs[type(m)]) for m in members)}

    def enc(v: Any, off: Any) -> pb.Literal:
        try:
            ok = (type(v), v) in allowed
        except TypeError:
            ok = False
        if not ok:
            try:
                member = by_value.get((type(v), v)) if _CONVERTING.on else None
            except TypeError:
                member = None
            if member is None:
                raise _Mismatch(tp, v)
            v = member
            note_coercion()
        cv = enum_convs.get(type(v)) if members else None
        if cv is not None:
            return cv.enc(v, off)
        return _enc_any(v, off)

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == "enum":
            cv = by_type_name.get(lit.enum.type_name)
            if cv is not None:
                return cv.dec(lit)
        return _dec_any(lit)

    c.enc, c.dec = enc, dec
    return c
