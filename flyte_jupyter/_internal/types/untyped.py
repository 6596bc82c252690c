"""Values without a declared type (typing.Any) and other classes carried as a pickle.

Exact builtin scalars become typed literals (readable by any reader); a literal is decoded by
what it says, finding record and enum classes only among already imported modules.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from flyte_jupyter._internal.types.core import _L, _NONE, _Conv, _conv, _NoneType
from flyte_jupyter._internal.types.datetimes import (
    _date_from,
    _datetime_from,
    _timedelta_from,
)
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.offload import _fetch
from flyte_jupyter._internal.types.pickled import _pickle, _unpickle
from flyte_jupyter._internal.types.scalars import _int_lit
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_ANY_SCALARS: dict[type, Callable[[Any], pb.Literal]] = {
    int: _int_lit,
    float: lambda v: _L(float=v),
    str: lambda v: _L(str=v),
    bool: lambda v: _L(bool=v),
    bytes: lambda v: _L(bytes=v),
    _NoneType: lambda v: _NONE,
}


def _enc_any(v: Any, off: Any) -> pb.Literal:
    """Any: exact builtin scalars as typed literals (readable anywhere), all else pickled."""
    f = _ANY_SCALARS.get(type(v))
    if f is not None:
        return f(v)
    blob_kind = getattr(type(v), "_flyte_blob_kind", None)
    if blob_kind is not None or getattr(type(v), "_flyte_dataframe", False):
        return _conv(type(v)).enc(v, off)
    return _pickle(v)


def _dec_any(lit: pb.Literal) -> Any:
    """Decode without a Python type: what the literal itself says."""
    k = lit.WhichOneof("value")
    if k in ("int", "float", "str", "bool", "bytes"):
        return getattr(lit, k)
    if k == "none" or k is None:
        return None
    if k == "pickle":
        return _unpickle(lit.pickle)
    if k == "big_int":
        return int(lit.big_int)
    if k == "datetime":
        return _datetime_from(lit.datetime)
    if k == "date":
        return _date_from(lit.date)
    if k == "duration":
        return _timedelta_from(lit.duration)
    if k == "collection":
        return [_dec_any(i) for i in lit.collection.items]
    if k in ("ints", "floats", "strs"):
        return list(getattr(lit, k).values)
    if k == "map":
        m = lit.map
        keys = list(m.keys) if m.keys else [_dec_any(x) for x in m.key_literals]
        return {key: _dec_any(val) for key, val in zip(keys, m.values)}
    if k == "record":
        cls = _find_class(lit.record.type_name)
        if cls is not None:
            return _conv(cls).dec(lit)
        return {n: _dec_any(val) for n, val in zip(lit.record.names, lit.record.values)}
    if k == "enum":
        cls = _find_class(lit.enum.type_name)
        return cls[lit.enum.name] if cls is not None else lit.enum.name
    if k == "blob":
        from flyte_jupyter.io import Dir, File

        return _conv(Dir if lit.blob.kind == pb.Blob.DIR else File).dec(lit)
    if k == "dataframe":
        from flyte_jupyter._internal.types.dataframes import decode_untyped

        return decode_untyped(lit)
    if k == "offloaded":
        return _dec_any(_fetch(lit.offloaded))
    if k == "union":
        return _dec_any(lit.union.value)
    raise TypeError(f"unknown literal kind {k!r}")


def _find_class(type_name: str) -> Any:
    """A class by 'module.qualname', only if its module is already imported (no import side
    effects while decoding)."""
    module, _, qual = type_name.partition(":")
    mod = sys.modules.get(module)
    if mod is None:
        return None
    obj: Any = mod
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _build_any(tp: Any) -> _Conv:
    return _Conv(tp, _enc_any, _dec_any)


def _build_pickled_class(tp: Any, check_cls: Any) -> _Conv:
    """Any other class: checked with isinstance when possible, carried as a pickle."""
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        if check_cls is not None:
            try:
                ok = isinstance(v, check_cls)
            except TypeError:
                ok = True
            if not ok and not _same_class_name(type(v), check_cls):
                raise _Mismatch(tp, v)
        return _pickle(v)

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == "pickle":
            return _unpickle(lit.pickle)
        return _dec_any(lit)

    c.enc, c.dec = enc, dec
    return c


def _same_class_name(a: type, b: Any) -> bool:
    """A class re-defined by re-running a notebook cell is a new object with the same name;
    values of the old class are still accepted."""
    return (
        isinstance(b, type)
        and a.__qualname__ == b.__qualname__
        and a.__module__ == b.__module__
        and a.__module__ == "__main__"
    )
