"""When ticks fall (issue 19): cron in a time zone across a DST change, fixed rates from an anchor."""

from __future__ import annotations

import datetime as dt

import pytest

from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb
from flyte_jupyter.backend import schedule


def _utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()


def test_london_midnight_follows_the_clock_change() -> None:
    spec = trig_pb.TriggerSpec(name="n", cron="0 0 * * *", timezone="Europe/London")
    # British Summer Time starts on 2026-03-29: midnight in London is 00:00 UTC before, 23:00 UTC after
    assert schedule.next_tick(spec, _utc("2026-03-28T12:00:00"), 0) == _utc("2026-03-29T00:00:00")
    assert schedule.next_tick(spec, _utc("2026-03-29T12:00:00"), 0) == _utc("2026-03-29T23:00:00")
    assert schedule.latest_tick(spec, _utc("2026-03-30T06:00:00"), 0) == _utc("2026-03-29T23:00:00")
    assert schedule.latest_tick(spec, _utc("2026-03-29T23:00:00"), 0) == _utc("2026-03-29T23:00:00")  # on a tick
    lit = schedule.tick_time(spec, _utc("2026-03-29T23:00:00"))
    assert lit.datetime.utc_offset == 3600 and lit.datetime.zone == "Europe/London"


def test_a_fixed_rate_counts_from_its_start_or_its_deployment() -> None:
    start = _utc("2026-01-01T00:00:00")
    spec = trig_pb.TriggerSpec(name="f", interval_minutes=90, start_time=start)
    assert schedule.latest_tick(spec, start - 1, 0) is None
    assert schedule.latest_tick(spec, start + 5399, 0) == start
    assert schedule.latest_tick(spec, start + 5400, 0) == start + 5400
    assert schedule.next_tick(spec, start + 5400, 0) == start + 10800
    anchored = trig_pb.TriggerSpec(name="g", interval_minutes=10)
    assert schedule.next_tick(anchored, 999.0, 400.0) == 1000.0  # 400 + 600
    assert schedule.next_tick(anchored, 1000.0, 400.0) == 1600.0  # strictly after
    assert schedule.describe(anchored) == "every 10 minutes"
    assert schedule.describe(trig_pb.TriggerSpec(name="m", interval_minutes=1)) == "every minute"


@pytest.mark.parametrize("spec, words", [
    (trig_pb.TriggerSpec(name="x", cron="* * *"), "five-field"),
    (trig_pb.TriggerSpec(name="x", cron="0 0 * * * *"), "five-field"),
    (trig_pb.TriggerSpec(name="x", cron="0 0 * * *", timezone="Nowhere/City"), "IANA"),
    (trig_pb.TriggerSpec(name="x"), "needs one schedule"),
    (trig_pb.TriggerSpec(name="x", cron="0 0 * * *", interval_minutes=5), "needs one schedule"),
    (trig_pb.TriggerSpec(name="x", interval_minutes=10 ** 9), "minutes"),
    (trig_pb.TriggerSpec(name="bad\nname", interval_minutes=5), "trigger name"),
    (trig_pb.TriggerSpec(name="x", interval_minutes=5, start_time=float("nan")), "start time"),
])
def test_schedules_that_cannot_run_are_named(spec: trig_pb.TriggerSpec, words: str) -> None:
    with pytest.raises(schedule.BadSchedule, match=words):
        schedule.check_schedule(spec)
