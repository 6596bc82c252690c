"""Hourly fixed-rate triggers whose ticks fall half past the hour from now (issue 19): one runs a
tick missed while the backend was down, the other (catch_up=False) skips it."""

from datetime import datetime, timedelta, timezone

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="missed")
START = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=30)


@env.task(triggers=flyte.Trigger("catchup", flyte.FixedRate(60, start_time=START),
                                 inputs={"start_time": flyte.TriggerTime}))
def catchup(start_time: datetime) -> str:
    return start_time.isoformat()


@env.task(triggers=flyte.Trigger("skipper", flyte.FixedRate(60, start_time=START),
                                 inputs={"start_time": flyte.TriggerTime}, catch_up=False))
def skipper(start_time: datetime) -> str:
    return start_time.isoformat()
