"""A task's triggers as a deployment registers them (`TaskEntry.triggers`): the schedule, and the
fixed inputs encoded by the task's own input types, with the input `TriggerTime` marks named so the
backend binds each tick's time to it. Checked here, before anything is uploaded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb


def trigger_specs(task: Any) -> list[trig_pb.TriggerSpec]:
    """The TriggerSpecs of `task.triggers` (ValueError naming the task and the trigger when wrong)."""
    from flyte_jupyter._trigger import Cron, FixedRate, Trigger, TriggerTime

    out = []
    for trig in getattr(task, "triggers", ()) or ():
        if not isinstance(trig, Trigger):
            raise TypeError(f"task {task.name}: triggers= takes flyte.Trigger objects, not {type(trig).__name__}")
        inputs = dict(trig.inputs or {})
        types = task.interface.input_types
        unknown = sorted(set(inputs) - set(types))
        if unknown:
            raise ValueError(f"task {task.name}: trigger {trig.name!r} sets inputs {unknown} the task does not have; "
                             f"its inputs are {sorted(types)}")
        time_input = trig.trigger_time_input
        fixed = {k: v for k, v in inputs.items() if v is not TriggerTime}
        spec = trig_pb.TriggerSpec(
            name=trig.name, description=trig.description or "", auto_activate=trig.auto_activate,
            trigger_time_input=time_input, env_vars=dict(trig.env_vars or {}),
            overwrite_cache=trig.overwrite_cache, labels=dict(trig.labels or {}), catch_up=trig.catch_up)
        auto = trig.automation
        if isinstance(auto, Cron):
            spec.cron, spec.timezone = auto.expression, auto.timezone or "UTC"
        elif isinstance(auto, FixedRate):
            spec.interval_minutes = int(auto.interval_minutes)
            if auto.start_time is not None:
                start = auto.start_time if auto.start_time.tzinfo else auto.start_time.replace(tzinfo=dt.timezone.utc)
                spec.start_time = start.timestamp()
        if fixed:
            from flyte_jupyter._internal.types import to_literal_map

            lm = to_literal_map(fixed, {k: types[k] for k in fixed}, task=task.name)
            spec.inputs = lm.SerializeToString(deterministic=True)
        out.append(spec)
    return out
