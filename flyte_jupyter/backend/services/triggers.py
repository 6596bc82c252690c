"""TriggerService: the schedules of deployed tasks (list, pause, resume, delete), and what the
TaskService calls to register the triggers a deployment brings (`check_triggers` before anything is
stored, `deploy_triggers` after). The scheduler (`backend/scheduler.py`) fires them."""

from __future__ import annotations

import time
from typing import Any

import grpc

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import literals_pb2 as lit
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb
from flyte_jupyter._internal.wire.proto import trigger_service_pb2_grpc as trig_grpc
from flyte_jupyter.backend import schedule
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.validation import Invalid, check_project_domain, check_request_strings
from flyte_jupyter.backend.store.records import TickRecord, TriggerRecord

MAX_TRIGGERS = 32  # per task
MAX_INPUTS = 1024 * 1024
MAX_TEXT = 4096


def check_triggers(entry: task_pb.TaskEntry, spec: pb.TaskSpec) -> None:
    """Invalid unless every trigger of a task entry can run: a schedule, its name once, its inputs
    the task's own (the time input among them), sizes capped."""
    task = spec.id.name
    if len(entry.triggers) > MAX_TRIGGERS:
        raise Invalid(f"task {task} has {len(entry.triggers)} triggers, more than {MAX_TRIGGERS}")
    declared = {v.name for v in spec.interface.inputs}
    seen: set[str] = set()
    for trig in entry.triggers:
        try:
            schedule.check_schedule(trig)
        except schedule.BadSchedule as exc:
            raise Invalid(f"task {task}: {exc}") from None
        if trig.name in seen:
            raise Invalid(f"task {task} has two triggers named {trig.name!r}; name each trigger once")
        seen.add(trig.name)
        if len(trig.inputs) > MAX_INPUTS or len(trig.description) > MAX_TEXT:
            raise Invalid(f"task {task}: trigger {trig.name!r} is too large (inputs over {MAX_INPUTS} bytes or a "
                          f"description over {MAX_TEXT} characters)")
        try:
            names = set(lit.LiteralMap.FromString(trig.inputs).literals) if trig.inputs else set()
        except Exception:  # noqa: BLE001 - DecodeError
            raise Invalid(f"task {task}: the inputs of trigger {trig.name!r} are not a LiteralMap") from None
        if trig.trigger_time_input:
            names.add(trig.trigger_time_input)
        check_request_strings(f"trigger {trig.name!r} of task {task}", trig.env_vars, "")
        if len(trig.labels) > 64 or any(len(k) > 256 or len(v) > 1024 or "\0" in k + v for k, v in trig.labels.items()):
            raise Invalid(f"task {task}: the labels of trigger {trig.name!r} are too many or too long "
                          "(at most 64, keys of 256 and values of 1024 characters)")
        types = {v.name: v.type for v in spec.interface.inputs}
        if trig.trigger_time_input in types and "datetime" not in types[trig.trigger_time_input]:
            raise Invalid(f"task {task}: trigger {trig.name!r} binds its time to input {trig.trigger_time_input!r} "
                          f"of type {types[trig.trigger_time_input]}; give that input the type datetime")
        unknown = sorted(names - declared)
        if unknown:
            raise Invalid(f"task {task}: trigger {trig.name!r} sets inputs {unknown} the task does not have; "
                          f"its inputs are {sorted(declared)}")


async def deploy_triggers(b: Backend, registered: list[tuple[pb.TaskSpec, task_pb.TaskEntry]]) -> None:
    """Store the triggers of registered tasks (each runs the version it came with); a trigger
    already there keeps whether it is paused. Inactive at first unless `auto_activate`."""
    now = clock_of(b)
    rows = []
    existing = await b.store.list_triggers()
    for spec, entry in registered:
        keep = {t.name for t in entry.triggers}
        for old in existing:
            if (old.project, old.domain, old.task_name) == (spec.id.project, spec.id.domain, spec.id.name) \
                    and old.name not in keep:
                await b.store.delete_trigger(old.key)  # the new deployment dropped it
        for trig in entry.triggers:
            rows.append(TriggerRecord(spec.id.project, spec.id.domain, spec.id.name, trig.name, spec.id.version,
                                      trig.SerializeToString(deterministic=True), trig.auto_activate, now, now))
    if rows:
        await b.store.put_triggers(rows)
        if b.scheduler is not None:
            b.scheduler.poke()


def clock_of(b: Backend) -> float:
    """Now, by the scheduler's clock (tests inject one)."""
    return b.scheduler.clock() if b.scheduler is not None else time.time()


def trigger_info(b: Backend, record: TriggerRecord, last: TickRecord | None) -> trig_pb.TriggerInfo:
    spec = trig_pb.TriggerSpec.FromString(record.spec)
    next_fire = b.scheduler.next_fire(record, spec, last) if b.scheduler is not None else 0.0
    return trig_pb.TriggerInfo(
        project=record.project, domain=record.domain, task_name=record.task_name, task_version=record.task_version,
        spec=spec, active=record.active, next_fire=next_fire, last_fire=last.tick if last else 0.0,
        last_run=last.run_name if last else "", created_at=record.created_at, schedule=schedule.describe(spec))


class TriggerService(trig_grpc.TriggerServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _place(self, project: str, domain: str) -> tuple[str, str]:
        project = project or self.backend.config.project
        domain = domain or self.backend.config.domain
        check_project_domain(project, domain)
        return project, domain

    async def _find(self, ref: trig_pb.TriggerRef) -> TriggerRecord:
        project, domain = self._place(ref.project, ref.domain)
        if not ref.name:
            raise Invalid("name the trigger")
        found = [t for t in await self.backend.store.list_triggers(project, domain)
                 if t.name == ref.name and (not ref.task_name or t.task_name == ref.task_name)]
        if not found:
            raise Refuse(grpc.StatusCode.NOT_FOUND,
                         f"no trigger {ref.name!r}{' of task ' + ref.task_name if ref.task_name else ''} in "
                         f"{project}/{domain}; `flyte-jupyter triggers list` shows the triggers there are")
        if len(found) > 1:
            tasks = ", ".join(t.task_name for t in found)
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                         f"trigger name {ref.name!r} is used by tasks {tasks}; name the task too (--task)")
        return found[0]

    @guard
    async def ListTriggers(self, request: trig_pb.ListTriggersRequest, context: Any) -> trig_pb.ListTriggersResponse:
        b = self.backend
        project, domain = self._place(request.project, request.domain)
        last = await b.store.last_ticks()
        out = [trigger_info(b, t, last.get(t.key)) for t in await b.store.list_triggers(project, domain)
               if not request.task_name or t.task_name == request.task_name]
        return trig_pb.ListTriggersResponse(triggers=out)

    @guard
    async def UpdateTrigger(self, request: trig_pb.UpdateTriggerRequest, context: Any) -> trig_pb.UpdateTriggerResponse:
        b = self.backend
        record = await self._find(request.ref)
        await b.store.set_trigger_active(record.key, request.active, clock_of(b))
        if b.scheduler is not None:
            b.scheduler.poke()
        record = await self._find(request.ref)
        last = (await b.store.last_ticks()).get(record.key)
        return trig_pb.UpdateTriggerResponse(trigger=trigger_info(b, record, last))

    @guard
    async def DeleteTrigger(self, request: trig_pb.DeleteTriggerRequest, context: Any) -> trig_pb.DeleteTriggerResponse:
        record = await self._find(request.ref)
        await self.backend.store.delete_trigger(record.key)
        return trig_pb.DeleteTriggerResponse()
