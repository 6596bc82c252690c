"""Deployed tasks with schedules for the panel's triggers API (issue 19); none fires during a test."""

from datetime import datetime

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="panel_triggers")


@env.task(triggers=[flyte.Trigger.daily(), flyte.Trigger("slow", flyte.FixedRate(600))])
def nightly(trigger_time: datetime) -> str:
    return trigger_time.isoformat()


@env.task(triggers=flyte.Trigger.daily("when"))
def other(when: datetime) -> str:
    return when.isoformat()
