"""QueueService: enqueue child actions under a run, and abort them."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2_grpc as queue_grpc
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import (
    PHASE_NAMES,
    Backend,
    check_executor,
    entry_of,
    write_inputs,
)
from flyte_jupyter.backend.services.validation import (
    Invalid,
    check_action_name,
    check_inputs_size,
    check_resources,
    check_task_spec,
)
from flyte_jupyter.backend.store.records import ActionRecord


class QueueService(queue_grpc.QueueServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _enqueue(self, req: queue_pb.EnqueueActionRequest, pending: list) -> queue_pb.EnqueueActionResponse:
        b = self.backend
        entry = await entry_of(b, req.id)
        check_action_name(req.id.name)
        existing = entry.actions.get(req.id.name)
        if existing is not None:
            return queue_pb.EnqueueActionResponse(action=existing.to_pb(), existed=True)
        parent = entry.actions.get(req.parent)
        if parent is None:
            raise Invalid(f"parent action {req.parent!r} does not exist in run {entry.run.name}")
        root = entry.actions.get(ROOT_ACTION)
        if root is not None and root.terminal:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"run {entry.run.name} has ended ({PHASE_NAMES[root.phase]}); it takes no new actions")
        if parent.terminal:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"parent action {parent.name} has ended ({PHASE_NAMES[parent.phase]}); it takes no new children")
        spec = pb.TaskSpec()
        spec.CopyFrom(req.task)
        spec.id.project, spec.id.domain = entry.run.project, entry.run.domain
        check_task_spec(spec)
        check_inputs_size(req.inputs)
        check_resources(spec, b.limits_for(entry.run.project, entry.run.domain))
        check_executor(b, spec)
        await b.catalog.register(spec)
        existing = entry.actions.get(req.id.name)  # a concurrent call may have added it meanwhile
        if existing is not None:
            return queue_pb.EnqueueActionResponse(action=existing.to_pb(), existed=True)
        run = entry.run
        inputs_uri = write_inputs(b, run.project, run.domain, run.name, req.id.name, req.inputs, req.inputs_uri)
        rec = ActionRecord(run.project, run.domain, run.name, req.id.name, req.parent, spec.id.name,
                           spec.id.version, task_type=spec.type or "python", group=req.group,
                           max_attempts=spec.retries.count + 1, inputs_uri=inputs_uri, inputs_hash=req.inputs_hash,
                           overwrite_cache=req.overwrite_cache or run.overwrite_cache)
        pending.append(b.executor.admit(entry, rec, spec))
        return queue_pb.EnqueueActionResponse(action=rec.to_pb(), existed=False)

    @guard
    async def EnqueueAction(self, request: queue_pb.EnqueueActionRequest, context: Any) -> queue_pb.EnqueueActionResponse:
        pending: list = []
        resp = await self._enqueue(request, pending)
        await asyncio.gather(*pending)
        return resp

    @guard
    async def EnqueueActions(self, request: queue_pb.EnqueueActionsRequest, context: Any) -> queue_pb.EnqueueActionsResponse:
        pending: list = []
        results = []
        try:
            for req in request.actions:
                results.append(await self._enqueue(req, pending))
        finally:
            if pending:
                await asyncio.gather(*pending)
        return queue_pb.EnqueueActionsResponse(results=results)

    @guard
    async def AbortQueuedAction(self, request: queue_pb.AbortQueuedActionRequest, context: Any) -> queue_pb.AbortQueuedActionResponse:
        entry = await entry_of(self.backend, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        await self.backend.executor.abort_actions(entry, [rec, *entry.descendants(rec.name)], request.reason or "aborted")
        return queue_pb.AbortQueuedActionResponse()
