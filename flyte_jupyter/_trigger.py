"""`flyte.Trigger`, `flyte.Cron`, `flyte.FixedRate`, `flyte.TriggerTime`: schedules of a task (Flyte 2's
names and signatures). A trigger is declared on a task (`@env.task(triggers=...)`) and becomes active
when the task is deployed (`flyte.deploy(env)`): the backend's scheduler then starts one run per
tick, with the tick's time bound to the input that `TriggerTime` marks.

One addition to Flyte's signature: `catch_up` (default True): a tick missed while the backend was
down runs once when it starts again; False skips it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Dict, Mapping, Union


class _TriggerTime:
    """Marks the input that gets the time of the tick that started the run."""

    def __repr__(self) -> str:
        return "flyte.TriggerTime"


TriggerTime = _TriggerTime()


@dataclasses.dataclass(frozen=True)
class Cron:
    """A five-field cron expression ("0 * * * *": hourly), read in `timezone` (IANA name)."""

    expression: str
    timezone: str = "UTC"

    def __str__(self) -> str:
        return f"Cron Trigger: {self.expression} ({self.timezone})"


@dataclasses.dataclass(frozen=True)
class FixedRate:
    """Every `interval_minutes`, counted from `start_time` (default: when the task is deployed)."""

    interval_minutes: int
    start_time: dt.datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.interval_minutes, bool) or not isinstance(self.interval_minutes, int) \
                or self.interval_minutes < 1:
            raise ValueError(f"FixedRate({self.interval_minutes!r}): the interval is a whole number of minutes, "
                             "at least 1")
        if self.start_time is not None and not isinstance(self.start_time, dt.datetime):
            raise TypeError("FixedRate(start_time=...) takes a datetime")

    def __str__(self) -> str:
        return f"FixedRate Trigger: every {self.interval_minutes} minutes"


def _preset(expression: str, default_name: str, description: str):  # type: ignore[no-untyped-def]
    def make(cls: type, trigger_time_input_key: str = "trigger_time", *, name: str = default_name,
             description: str = description, auto_activate: bool = True, inputs: Dict[str, Any] | None = None,
             env_vars: Dict[str, str] | None = None, interruptible: bool | None = None,
             overwrite_cache: bool = False, queue: str | None = None, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None, catch_up: bool = True) -> "Trigger":
        return cls(name, Cron(expression), description=description, auto_activate=auto_activate,
                   inputs={trigger_time_input_key: TriggerTime, **(inputs or {})}, env_vars=env_vars,
                   interruptible=interruptible, overwrite_cache=overwrite_cache, queue=queue, labels=labels,
                   annotations=annotations, catch_up=catch_up)

    make.__doc__ = f"A trigger named {default_name!r}: {description} (cron {expression!r}, UTC)."
    return classmethod(make)


@dataclasses.dataclass(frozen=True)
class Trigger:
    """A schedule for a task: `automation` (Cron or FixedRate), fixed `inputs` for its runs (one of
    them may be `flyte.TriggerTime`), and options of the runs it starts."""

    name: str
    automation: Union[Cron, FixedRate]
    description: str = ""
    auto_activate: bool = True
    inputs: Dict[str, Any] | None = None
    env_vars: Dict[str, str] | None = None
    interruptible: bool | None = None
    overwrite_cache: bool = False
    queue: str | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None
    catch_up: bool = True

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a trigger needs a name")
        if not isinstance(self.automation, (Cron, FixedRate)):
            raise TypeError(f"trigger {self.name!r}: automation is flyte.Cron(...) or flyte.FixedRate(...), not "
                            f"{type(self.automation).__name__}")
        times = [k for k, v in (self.inputs or {}).items() if v is TriggerTime]
        if len(times) > 1:
            raise ValueError(f"trigger {self.name!r} binds TriggerTime to {times}; bind it to one input")

    @property
    def trigger_time_input(self) -> str:
        """The input that gets the tick's time ("" when none)."""
        return next((k for k, v in (self.inputs or {}).items() if v is TriggerTime), "")

    minutely = _preset("* * * * *", "minutely", "A trigger that runs every minute")
    hourly = _preset("0 * * * *", "hourly", "A trigger that runs every hour")
    daily = _preset("0 0 * * *", "daily", "A trigger that runs daily at midnight")
    weekly = _preset("0 0 * * 0", "weekly", "A trigger that runs weekly on Sundays at midnight")
    monthly = _preset("0 0 1 * *", "monthly", "A trigger that runs monthly on the 1st at midnight")
