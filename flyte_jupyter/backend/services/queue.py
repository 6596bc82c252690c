"""QueueService: enqueue child actions under a run, and abort them."""

from __future__ import annotations

import asyncio
import dataclasses
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
    entry_of,
    write_inputs,
)
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
        root = entry.actions.get(ROOT_ACTION)
        if root is not None and root.terminal:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                         f"run {run.name} has ended ({PHASE_NAMES[root.phase]}); it takes no new actions")
        if parent is not None and parent.terminal:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                         f"parent action {parent.name} has ended ({PHASE_NAMES[parent.phase]}); it takes no new children")
        spec = pb.TaskSpec()
        spec.CopyFrom(req.task)
        spec.id.project, spec.id.domain = run.project, run.domain
        check_task_spec(spec)
        check_inputs_of(b, run.project, run.domain, run.name, req.inputs, req.inputs_uri)
        check_resources(spec, b.limits_for(run.project, run.domain))
        check_executor(b, spec)
        await b.catalog.check(spec)
        batch[(run.key, req.id.name)] = req.parent
        return _Checked(entry, req, spec, None)

    async def _store(self, item: _Checked, pending: list) -> queue_pb.EnqueueActionResponse:
        b = self.backend
        entry, req, spec = item.entry, item.req, item.spec
        if item.existing is not None or spec is None:
            known = item.existing or entry.actions[req.id.name]
            return queue_pb.EnqueueActionResponse(action=known.to_pb(), existed=True)
        await b.catalog.register(spec)
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

    async def _enqueue_all(self, reqs: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        """Check every request, then store them: a call with one bad request stores none."""
        batch: dict[tuple, str] = {}
        checked = [await self._check(req, batch) for req in reqs]
        pending: list = []
        results = []
        try:
            for item in checked:
                results.append(await self._store(item, pending))
        finally:
            if pending:
                await asyncio.gather(*pending)
        return results

    @guard
    async def EnqueueAction(self, request: queue_pb.EnqueueActionRequest, context: Any) -> queue_pb.EnqueueActionResponse:
        return (await self._enqueue_all([request]))[0]

    @guard
    async def EnqueueActions(self, request: queue_pb.EnqueueActionsRequest, context: Any) -> queue_pb.EnqueueActionsResponse:
        return queue_pb.EnqueueActionsResponse(results=await self._enqueue_all(list(request.actions)))

    @guard
    async def AbortQueuedAction(self, request: queue_pb.AbortQueuedActionRequest, context: Any) -> queue_pb.AbortQueuedActionResponse:
        entry = await entry_of(self.backend, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        await self.backend.executor.abort_actions(entry, [rec, *entry.descendants(rec.name)], request.reason or "aborted")
        return queue_pb.AbortQueuedActionResponse()
