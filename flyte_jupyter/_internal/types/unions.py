"""Converters for Optional, Union (tagged with the member when there are several) and Literal."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _L, _NONE, _Conv, _conv, _NoneType
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
    c = _Conv(tp)
    allowed = {(type(a), a) for a in args}

    def enc(v: Any, off: Any) -> pb.Literal:
        try:
            ok = (type(v), v) in allowed
        except TypeError:
            ok = False
        if not ok:
            raise _Mismatch(tp, v)
        return _enc_any(v, off)

    c.enc, c.dec = enc, _dec_any
    return c
