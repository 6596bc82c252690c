"""QueueService: enqueue child actions under a run, and abort them.

A child names its task by spec (`task`) or by reference to a version registered in the run's own
project and domain (`task_ref`: a deployed task called from a task), and then runs the registered
spec, code bundle and image, as a run by reference does. Either way the spec gets the
project-domain's resource defaults where it requests nothing and is checked against the limits
in effect now."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2_grpc as queue_grpc
from flyte_jupyter.backend.recovery import mark_recovered
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import (
    PHASE_NAMES,
    Backend,
    check_executor,
    check_inputs_of,
    discard_inputs,
    effective_spec,
    entry_of,
    write_inputs,
)
from flyte_jupyter.backend.services.tasks import not_found
from flyte_jupyter.backend.services.validation import (
    Invalid,
    check_action_name,
    check_resources,
    check_task_spec,
)
from flyte_jupyter.backend.store.records import ActionRecord

if TYPE_CHECKING:
    from flyte_jupyter.backend.state import RunEntry


@dataclasses.dataclass
class _Checked:
    """One EnqueueAction request that passed every check (or names an action that exists)."""

    entry: RunEntry
    req: queue_pb.EnqueueActionRequest
    spec: pb.TaskSpec | None
    existing: ActionRecord | None
    identity: str = ""  # the digest of the spec as sent: the version's identity


# A large batch is checked and stored in slices, the loop free in between: 500 children held the
# loop for 0.2-1 s on a loaded 2-core machine, and every change made meanwhile (a launch, a commit
# published to watchers) waited for it. A slice ends after `_YIELD_EVERY` children or `_SLICE_S`
# seconds, whichever comes first: a child costs 0.3-2 ms to store depending on the load, so a
# count alone made slices of 10-60 ms, and a watcher heard of a child a slice or two later.
_YIELD_EVERY = 32
_SLICE_S = 0.004


class _Slices:
    """Says when a batch's loop should let the event loop go (see `_SLICE_S`)."""

    def __init__(self) -> None:
        self._count = 0
        self._since = time.monotonic()

    def due(self) -> bool:
        self._count += 1
        return self._count > _YIELD_EVERY or time.monotonic() - self._since >= _SLICE_S

    def restart(self) -> None:
        self._count = 0
        self._since = time.monotonic()


async def _slice_published(writes: list) -> None:
    """Between two slices of a batch: wait until the slice before the one just stored is durable,
    and so published (the hub publishes a change once its write is committed). A watcher then
    hears of a child's QUEUED within about two slices of its making, instead of after the whole
    batch, since the loop would otherwise keep storing slices while the commit, its publishing and
    the watch streams' sends each wait a slice's turn; the newest slice's write goes on meanwhile,
    so the writer is never idle. Errors surface where the batch awaits all of its writes."""
    if writes:
        await asyncio.wait(writes)
    else:
        await asyncio.sleep(0)


def _refuse_if_ended(entry: RunEntry, parent_name: str) -> None:
    """A run or a parent that has ended takes no new children."""
    run = entry.run
    root = entry.actions.get(ROOT_ACTION)
    if root is not None and root.terminal:
        raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                     f"run {run.name} has ended ({PHASE_NAMES[root.phase]}); it takes no new actions")
    parent = entry.actions.get(parent_name)
    if parent is not None and parent.terminal:
        raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                     f"parent action {parent.name} has ended ({PHASE_NAMES[parent.phase]}); it takes no new children")


class QueueService(queue_grpc.QueueServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _check(self, req: queue_pb.EnqueueActionRequest, batch: dict[tuple, str]) -> _Checked:
        """Every check of one request, storing nothing. `batch`: names (by run) that earlier
        requests of the same call add, so a parent may come in the same call as its child."""
        b = self.backend
        entry = await entry_of(b, req.id)
        check_action_name(req.id.name)
        existing = entry.actions.get(req.id.name)
        if existing is not None:
            return _Checked(entry, req, None, existing)
        run = entry.run
        parent = entry.actions.get(req.parent)
        if parent is None and (run.key, req.parent) not in batch:
            raise Invalid(f"parent action {req.parent!r} does not exist in run {run.name}")
        _refuse_if_ended(entry, req.parent)
        if req.HasField("task_ref"):
            spec, identity = await self._registered(req, run.project, run.domain)
        else:
            spec = pb.TaskSpec()
            spec.CopyFrom(req.task)
            spec.id.project, spec.id.domain = run.project, run.domain
            check_task_spec(spec)
            spec, identity = await effective_spec(b, spec)
        check_inputs_of(b, run.project, run.domain, run.name, req.inputs, req.inputs_uri)
        check_resources(spec, b.limits_for(run.project, run.domain))
        check_executor(b, spec)
        await b.catalog.check(spec, identity)
        batch[(run.key, req.id.name)] = req.parent
        return _Checked(entry, req, spec, None, identity)

    async def _registered(self, req: queue_pb.EnqueueActionRequest, project: str, domain: str) -> tuple[pb.TaskSpec, str]:
        """The registered spec a child by reference runs, and its identity digest."""
        ref = req.task_ref
        if req.HasField("task") and req.task.ByteSize():
            raise Invalid("send the child's task spec or a reference to a registered task (task_ref), not both")
        if not ref.name:
            raise Invalid("task_ref names no task")
        for what, named, own in (("project", ref.project, project), ("domain", ref.domain, domain)):
            if named and named != own:
                raise Invalid(f"task {ref.name} is registered in {what} {named!r}, not in this run's {what} {own!r}; "
                              "a deployed task called from a task must be registered in the run's own project and "
                              "domain (start it as its own run with flyte.run instead)")
        reg = await self.backend.catalog.registered(project, domain, ref.name, ref.version)
        if reg is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, not_found(ref.name, ref.version, project, domain))
        spec = pb.TaskSpec()
        spec.CopyFrom(reg.spec)
        check_task_spec(spec)
        return spec, reg.record.digest

    async def _store(self, item: _Checked, pending: list) -> queue_pb.EnqueueActionResponse:
        b = self.backend
        entry, req, spec = item.entry, item.req, item.spec
        if item.existing is not None or spec is None:
            known = item.existing or entry.actions[req.id.name]
            return queue_pb.EnqueueActionResponse(action=known.to_pb(), existed=True)
        await b.catalog.register(spec, item.identity)
        source = await b.recoveries.source_for(entry)  # a rerun with recover: what it may reuse
        existing = entry.actions.get(req.id.name)  # a concurrent call may have added it meanwhile
        if existing is not None:
            return queue_pb.EnqueueActionResponse(action=existing.to_pb(), existed=True)
        run = entry.run
        inputs_uri, wrote = write_inputs(b, run.project, run.domain, run.name, req.id.name, req.inputs,
                                         req.inputs_uri)
        rec = ActionRecord(run.project, run.domain, run.name, req.id.name, req.parent, spec.id.name,
                           spec.id.version, task_type=spec.type or "python", group=req.group,
                           max_attempts=spec.retries.count + 1, inputs_uri=inputs_uri, inputs_hash=req.inputs_hash,
                           overwrite_cache=req.overwrite_cache or run.overwrite_cache)
        recovered = source.match(rec, spec) if source is not None else None
        if recovered is not None:  # a rerun with recover: its outputs are the source's, it does not run
            mark_recovered(rec, recovered)
            pending.append(b.hub.record(entry, [rec]))
            return queue_pb.EnqueueActionResponse(action=rec.to_pb(), existed=False)
        try:
            pending.append(b.executor.admit(entry, rec, spec))
        except BaseException:
            if wrote:
                discard_inputs(inputs_uri)
            raise
        return queue_pb.EnqueueActionResponse(action=rec.to_pb(), existed=False)

    async def enqueue_all(self, reqs: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        """Check every request, then store them: a call with one bad request stores none. A large
        batch is stored in slices with the loop free in between (`_Slices`); a run or parent
        that ended meanwhile (aborted) refuses the rest, as it would a new call."""
        batch: dict[tuple, str] = {}
        checked = []
        slices = _Slices()
        for req in reqs:
            if slices.due():
                await asyncio.sleep(0)
                slices.restart()
            checked.append(await self._check(req, batch))
        pending: list = []
        results = []
        durable = 0  # pending[:durable]: writes known to be committed (or failed)
        stored = 0  # pending[:stored]: the writes of the slices before the one just stored
        slices.restart()
        try:
            for i, item in enumerate(checked):
                if i and slices.due():
                    await _slice_published(pending[durable:stored])
                    durable, stored = stored, len(pending)
                    slices.restart()
                    if item.existing is None:
                        _refuse_if_ended(item.entry, item.req.parent)
                results.append(await self._store(item, pending))
        finally:
            if pending:
                await asyncio.gather(*pending)
        return results

    @guard
    async def EnqueueAction(self, request: queue_pb.EnqueueActionRequest, context: Any) -> queue_pb.EnqueueActionResponse:
        return (await self.enqueue_all([request]))[0]

    @guard
    async def EnqueueActions(self, request: queue_pb.EnqueueActionsRequest, context: Any) -> queue_pb.EnqueueActionsResponse:
        return queue_pb.EnqueueActionsResponse(results=await self.enqueue_all(list(request.actions)))

    @guard
    async def AbortQueuedAction(self, request: queue_pb.AbortQueuedActionRequest, context: Any) -> queue_pb.AbortQueuedActionResponse:
        entry = await entry_of(self.backend, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        await self.backend.executor.abort_actions(entry, [rec, *entry.descendants(rec.name)], request.reason or "aborted")
        return queue_pb.AbortQueuedActionResponse()
