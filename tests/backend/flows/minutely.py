"""One task fired every minute, and one whose missed tick is skipped (issue 19)."""

from datetime import datetime

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="minutely")


@env.task(triggers=flyte.Trigger.minutely())
def tick(trigger_time: datetime) -> str:
    return trigger_time.isoformat()
