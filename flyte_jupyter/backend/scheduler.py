"""The backend's scheduler: fires each active trigger of a deployed task once per tick.

Once per tick, also across restarts and replicas: a fire is one `create_run` whose run is stored in
the same transaction as the (trigger, tick) record, and that record's primary key refuses a second
fire of the tick, whoever tries it (this process after a SIGKILL, or another replica on the same
database). The run's name is deterministic too (trigger, task and tick), and it is labelled with
its trigger (`TRIGGER_LABEL`, `TRIGGER_TASK_LABEL`, `TRIGGER_TIME_LABEL`) so views group the runs of
a schedule.

Which tick fires: on every pass, the newest tick at or before now that is newer than the last
fired one and than the moment the trigger became active (`active_since`: deployment or resume, so
a paused trigger does not catch up on what it missed while paused). So a backend that was down
over several ticks runs the newest missed one once on start, not each of them; a trigger with
`catch_up=False` skips ticks that fell before this start of the scheduler.

The clock is injectable (`clock`, epoch seconds), and `run_once(now)` is one pass: tests drive a
simulated day with it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import time
from typing import TYPE_CHECKING, Callable

from flyte_jupyter._internal.runtime.naming import TRIGGER_LABEL, TRIGGER_TASK_LABEL, TRIGGER_TIME_LABEL
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import literals_pb2 as lit
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb
from flyte_jupyter.backend import schedule
from flyte_jupyter.backend.state import TickFired
from flyte_jupyter.backend.store.records import TickRecord, TriggerKey, TriggerRecord

if TYPE_CHECKING:
    from flyte_jupyter.backend.services.context import Backend

log = logging.getLogger("flyte_jupyter.backend")

MAX_WAIT = 1.0  # seconds between passes at most


def run_name_for(key: TriggerKey, tick: float) -> str:
    """`<trigger>-<6 hex of project/domain/task/trigger>-<UTC yyyymmddhhmmss>`: the same for the same
    tick, different for two tasks that use one trigger name."""
    slug = re.sub(r"[^a-z0-9]+", "-", key[3].lower()).strip("-")[:40] or "trigger"
    if not slug[0].isalpha():
        slug = "t" + slug[:39]
    digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:6]
    stamp = dt.datetime.fromtimestamp(tick, dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    return f"{slug}-{digest}-{stamp}"


class Scheduler:
    """See the module docstring."""

    def __init__(self, backend: "Backend", clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self.started_at = 0.0
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._failing: dict[tuple[TriggerKey, float], str] = {}  # ticks that could not fire, logged once

    async def start(self) -> None:
        self.started_at = self.clock()
        self._task = asyncio.ensure_future(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
            self._task = None

    def poke(self) -> None:
        """Look again now (a trigger was deployed, paused or resumed)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a pass that failed is tried again
                log.exception("the scheduler's pass failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), MAX_WAIT)
            except asyncio.TimeoutError:
                pass

    # -- one pass ----------------------------------------------------------------------------------

    def floor(self, record: TriggerRecord, spec: trig_pb.TriggerSpec, last: TickRecord | None) -> float:
        """Ticks at or before this never fire (see the module docstring)."""
        floor = max(record.active_since, last.tick if last is not None else 0.0)
        if not spec.catch_up:
            floor = max(floor, self.started_at)
        return floor

    async def run_once(self, now: float | None = None) -> list[str]:
        """One pass at `now` (default: the clock): the names of the runs it created."""
        now = self.clock() if now is None else now
        store = self.backend.store
        last = await store.last_ticks()
        fired = []
        for record in await store.list_triggers():
            if not record.active:
                continue
            spec = trig_pb.TriggerSpec.FromString(record.spec)
            try:
                tick = schedule.latest_tick(spec, now, record.created_at)
            except ValueError as exc:
                log.warning("trigger %s of %s cannot be scheduled: %s", record.name, record.task_name, exc)
                continue
            if tick is None or tick <= self.floor(record, spec, last.get(record.key)):
                continue
            name = await self.fire(record, spec, tick)
            if name:
                fired.append(name)
        return fired

    async def fire(self, record: TriggerRecord, spec: trig_pb.TriggerSpec, tick: float) -> str | None:
        """Create the tick's run (None when the tick had fired already, or cannot fire)."""
        from flyte_jupyter.backend.services.auth import Refuse
        from flyte_jupyter.backend.services.run import create_run

        run_name = run_name_for(record.key, tick)
        inputs = lit.LiteralMap()
        if spec.inputs:
            inputs.ParseFromString(spec.inputs)
        if spec.trigger_time_input:
            inputs.literals[spec.trigger_time_input].CopyFrom(schedule.tick_time(spec, tick))
        when = dt.datetime.fromtimestamp(tick, dt.timezone.utc).isoformat()
        request = run_pb.CreateRunRequest(
            project=record.project, domain=record.domain, run_name=run_name,
            task_ref=pb.TaskIdentifier(project=record.project, domain=record.domain, name=record.task_name,
                                       version=record.task_version),
            inputs=inputs.SerializeToString(deterministic=True),
            labels={**dict(spec.labels), TRIGGER_LABEL: record.name, TRIGGER_TASK_LABEL: record.task_name,
                    TRIGGER_TIME_LABEL: when},
            env_vars=dict(spec.env_vars), overwrite_cache=spec.overwrite_cache)
        tick_record = TickRecord(record.project, record.domain, record.task_name, record.name, tick, run_name,
                                 self.clock())
        try:
            await create_run(self.backend, request, tick_record)
        except TickFired:
            return None
        except Refuse as refused:
            self._note_failure(record, tick, refused.message)
            return None
        except Exception as exc:  # noqa: BLE001 - Invalid and the like: say it once, try again next pass
            self._note_failure(record, tick, str(exc))
            return None
        self._failing.pop((record.key, tick), None)
        log.info("trigger %s of %s fired its tick %s: run %s", record.name, record.task_name, when, run_name)
        return run_name

    def _note_failure(self, record: TriggerRecord, tick: float, why: str) -> None:
        if self._failing.get((record.key, tick)) != why:
            if len(self._failing) > 1000:
                self._failing.clear()
            self._failing[(record.key, tick)] = why
            log.warning("trigger %s of %s could not fire (tried again each pass): %s", record.name,
                        record.task_name, why)

    # -- what views show ---------------------------------------------------------------------------

    def next_fire(self, record: TriggerRecord, spec: trig_pb.TriggerSpec, last: TickRecord | None,
                  now: float | None = None) -> float:
        """When it fires next (0 when paused)."""
        if not record.active:
            return 0.0
        now = self.clock() if now is None else now
        after = max(now, self.floor(record, spec, last))
        return schedule.next_tick(spec, after, record.created_at)
