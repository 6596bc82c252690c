"""Converters for types kept in one scalar field: int, float, str, bool, bytes, None, time values."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

from flyte_jupyter._internal.types.core import _L, _NONE, _Conv, _NoneType
from flyte_jupyter._internal.types.datetimes import (
    _date_from,
    _datetime_from,
    _enc_date,
    _enc_datetime,
    _enc_timedelta,
    _timedelta_from,
)
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _int_lit(v: int) -> pb.Literal:
    if _INT64_MIN <= v <= _INT64_MAX:
        return _L(int=v)
    return _L(big_int=str(v))


def _build_int(tp: Any) -> _Conv:
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        if type(v) is int:
            if _INT64_MIN <= v <= _INT64_MAX:
                return _L(int=v)
            return _L(big_int=str(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return _int_lit(int(v))
        if not isinstance(v, (bool, str, bytes)) and hasattr(v, "__index__"):  # numpy integers
            return _int_lit(v.__index__())
        raise _Mismatch(int, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "int":
            return lit.int
        if k == "big_int":
            return int(lit.big_int)
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _build_float(tp: Any) -> _Conv:
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        t = type(v)
        if t is float:
            return _L(float=v)
        if t is int:
            return _L(float=float(v))
        if not isinstance(v, (bool, str, bytes)):
            try:
                import numbers

                if isinstance(v, numbers.Real):
                    return _L(float=float(v))
            except (TypeError, ValueError, OverflowError):
                pass
        raise _Mismatch(float, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "float":
            return lit.float
        if k == "int":
            return float(lit.int)
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _scalar(tp: Any, kind: str, enc_fn: Callable[[Any], Any], dec_fn: Callable[[Any], Any]) -> _Conv:
    """A type kept in one scalar field `kind` of Literal. enc_fn returns the Literal, or None
    when the value does not fit the type; dec_fn turns the field's content back into a value."""
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        lit = enc_fn(v)
        if lit is None:
            raise _Mismatch(tp, v)
        return lit

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == kind:
            return dec_fn(getattr(lit, kind))
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _same(x: Any) -> Any:
    return x


def _enc_str(v: Any) -> pb.Literal | None:
    return _L(str=v) if isinstance(v, str) else None


def _enc_bool(v: Any) -> pb.Literal | None:
    if v is True or v is False:
        return _L(bool=v)
    return _L(bool=bool(v)) if type(v).__name__ == "bool_" else None  # numpy.bool_


def _enc_bytes(v: Any) -> pb.Literal | None:
    if type(v) is bytes:
        return _L(bytes=v)
    return _L(bytes=bytes(v)) if isinstance(v, (bytes, bytearray, memoryview)) else None


def _enc_none(v: Any) -> pb.Literal | None:
    return _NONE if v is None else None


# type -> (Literal field, encoder, decoder of the field's content)
_SCALARS: dict[Any, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    str: ("str", _enc_str, _same),
    bool: ("bool", _enc_bool, _same),
    bytes: ("bytes", _enc_bytes, _same),
    bytearray: ("bytes", _enc_bytes, bytearray),
    _NoneType: ("none", _enc_none, lambda _: None),
    _dt.datetime: ("datetime", _enc_datetime, _datetime_from),
    _dt.date: ("date", _enc_date, _date_from),
    _dt.timedelta: ("duration", _enc_timedelta, _timedelta_from),
}
