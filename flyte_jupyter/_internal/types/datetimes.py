"""Time values: datetime (naive, offset or named zone), date and timedelta as integer fields."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from flyte_jupyter._internal.types.core import _L
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EPOCH_ORD = _dt.date(1970, 1, 1).toordinal()
_US = _dt.timedelta(microseconds=1)


def _enc_datetime(v: Any) -> pb.Literal | None:
    if not isinstance(v, _dt.datetime):
        return None
    off = v.utcoffset() if v.tzinfo is not None else None
    if off is None:
        return _L(datetime=pb.Datetime(micros=(v - _EPOCH) // _US, naive=True))
    zone = getattr(v.tzinfo, "key", "") if type(v.tzinfo).__name__ == "ZoneInfo" else ""
    return _L(datetime=pb.Datetime(micros=(v - _EPOCH_UTC) // _US, utc_offset=int(off.total_seconds()), zone=zone))


def _datetime_from(m: pb.Datetime) -> _dt.datetime:
    if m.naive:
        return _EPOCH + _dt.timedelta(microseconds=m.micros)
    utc = _EPOCH_UTC + _dt.timedelta(microseconds=m.micros)
    if m.zone:
        try:
            from zoneinfo import ZoneInfo

            return utc.astimezone(ZoneInfo(m.zone))
        except Exception:  # zone database missing on this machine: keep the offset
            pass
    return utc.astimezone(_dt.timezone(_dt.timedelta(seconds=m.utc_offset)))


def _enc_date(v: Any) -> pb.Literal | None:
    if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
        return _L(date=v.toordinal() - _EPOCH_ORD)
    return None


def _date_from(days: int) -> _dt.date:
    return _dt.date.fromordinal(days + _EPOCH_ORD)


def _enc_timedelta(v: Any) -> pb.Literal | None:
    return _L(duration=v // _US) if isinstance(v, _dt.timedelta) else None


def _timedelta_from(micros: int) -> _dt.timedelta:
    return _dt.timedelta(microseconds=micros)
