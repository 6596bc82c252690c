"""Tasks with triggers (issue 19): the tick's time comes in as an input."""

from datetime import datetime

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="scheduled")
DAY_START = datetime.fromisoformat("2026-01-15T00:00:00+00:00")


@env.task(triggers=flyte.Trigger.hourly())
def hourly(trigger_time: datetime, x: int = 1) -> str:
    return f"hourly {trigger_time.isoformat()} x={x}"


@env.task(triggers=[flyte.Trigger("every90", flyte.FixedRate(90, start_time=DAY_START),
                                  inputs={"start_time": flyte.TriggerTime, "label": "fixed"}),
                    flyte.Trigger("london", flyte.Cron("0 0 * * *", timezone="Europe/London"),
                                  inputs={"start_time": flyte.TriggerTime, "label": "midnight"})])
def report(start_time: datetime, label: str = "none") -> str:
    return f"{label} {start_time.isoformat()}"
