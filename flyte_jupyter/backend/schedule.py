"""When a trigger's ticks fall: cron expressions (croniter, in the trigger's IANA time zone through
zoneinfo, so "0 0 * * *" in Europe/London is London's midnight across DST) and fixed rates
(every N minutes from an anchor). Pure functions over epoch seconds: the scheduler's clock is
whatever it is handed, so a simulated day runs in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb

MAX_INTERVAL_MINUTES = 366 * 24 * 60
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


class BadSchedule(ValueError):
    """A trigger whose schedule cannot be used (the message names it and the fix)."""


def zone(spec: trig_pb.TriggerSpec) -> dt.tzinfo:
    name = spec.timezone or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSchedule(f"trigger {spec.name!r}: {name[:80]!r} is not an IANA time zone (e.g. 'Europe/London', "
                          "'UTC')") from None


def check_schedule(spec: trig_pb.TriggerSpec) -> None:
    """BadSchedule unless the trigger has a usable name and exactly one valid schedule."""
    from croniter import croniter

    if not _NAME.fullmatch(spec.name):
        raise BadSchedule(f"trigger name {spec.name[:80]!r} is not valid: use 1-63 letters, digits, '.', '_' and '-', "
                          "starting with a letter or digit")
    if bool(spec.cron) == bool(spec.interval_minutes):
        raise BadSchedule(f"trigger {spec.name!r} needs one schedule: flyte.Cron(...) or flyte.FixedRate(...)")
    if spec.cron:
        if len(spec.cron) > 256 or len(spec.cron.split()) != 5 or not croniter.is_valid(spec.cron):
            raise BadSchedule(f"trigger {spec.name!r}: {spec.cron[:80]!r} is not a five-field cron expression "
                              "(minute hour day-of-month month day-of-week, e.g. '0 * * * *')")
        zone(spec)
    elif not 0 < spec.interval_minutes <= MAX_INTERVAL_MINUTES:
        raise BadSchedule(f"trigger {spec.name!r}: FixedRate({spec.interval_minutes}) must be 1 to "
                          f"{MAX_INTERVAL_MINUTES} minutes")
    if not math.isfinite(spec.start_time) or spec.start_time < 0:
        raise BadSchedule(f"trigger {spec.name!r}: its start time is not a time")


def _when(t: float, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, tz)


def latest_tick(spec: trig_pb.TriggerSpec, now: float, anchor: float) -> float | None:
    """The newest tick at or before `now` (None: none yet). `anchor`: where a fixed rate counts
    from when the trigger names no start time (its deployment)."""
    if spec.cron:
        from croniter import croniter

        tz = zone(spec)
        at = _when(now, tz)
        if at.second == 0 and at.microsecond == 0 and croniter.match(spec.cron, at):
            return now
        return float(croniter(spec.cron, at).get_prev(dt.datetime).timestamp())
    start = spec.start_time or anchor
    step = spec.interval_minutes * 60.0
    if now < start:
        return None
    return start + math.floor((now - start) / step) * step


def next_tick(spec: trig_pb.TriggerSpec, after: float, anchor: float) -> float:
    """The first tick strictly after `after`."""
    if spec.cron:
        from croniter import croniter

        return float(croniter(spec.cron, _when(after, zone(spec))).get_next(dt.datetime).timestamp())
    start = spec.start_time or anchor
    step = spec.interval_minutes * 60.0
    if after < start:
        return start
    return start + (math.floor((after - start) / step) + 1) * step


def describe(spec: trig_pb.TriggerSpec) -> str:
    """The schedule for people: "cron 0 * * * * (UTC)", "every 10 minutes"."""
    if spec.cron:
        return f"cron {spec.cron} ({spec.timezone or 'UTC'})"
    n = spec.interval_minutes
    return "every minute" if n == 1 else f"every {n} minutes"


def tick_time(spec: trig_pb.TriggerSpec, tick: float) -> Any:
    """The tick as the datetime literal bound to the trigger's time input (aware, in its zone)."""
    from flyte_jupyter._internal.wire.proto import literals_pb2 as lit

    tz = zone(spec) if spec.cron else dt.timezone.utc
    at = _when(tick, tz)
    offset = at.utcoffset() or dt.timedelta(0)
    return lit.Literal(datetime=lit.Datetime(micros=round(tick * 1_000_000), naive=False,
                                             utc_offset=int(offset.total_seconds()),
                                             zone=spec.timezone if spec.cron and spec.timezone else ""))
