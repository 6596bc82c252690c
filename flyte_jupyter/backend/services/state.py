"""StateService: watch a run's actions, read one action, and stream its logs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter.backend.executor.executor import Attempt
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import Backend, entry_of

_WATCH_CHUNK = 2000


class StateService(state_grpc.StateServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @guard
    async def Watch(self, request: state_pb.WatchRequest, context: Any) -> Any:
        hub = self.backend.hub
        entry = await entry_of(self.backend, request.run)
        sub, snapshot = hub.subscribe(entry, request.parent, request.since_seq, request.terminal_only)
        try:
            seq = request.since_seq
            for i in range(0, len(snapshot), _WATCH_CHUNK):
                chunk = snapshot[i:i + _WATCH_CHUNK]
                seq = max(seq, chunk[-1].seq)
                yield state_pb.WatchResponse(actions=chunk, seq=seq)
            yield state_pb.WatchResponse(synced=True, seq=seq)
            while True:
                batch = [await sub.inbox.get()]
                while not sub.inbox.empty() and len(batch) < _WATCH_CHUNK:
                    batch.append(sub.inbox.get_nowait())
                batch = [m for m in batch if m.seq > seq]
                if batch:
                    seq = max(m.seq for m in batch)
                    yield state_pb.WatchResponse(actions=batch, seq=seq)
        finally:
            hub.unsubscribe(entry, sub)

    @guard
    async def GetAction(self, request: state_pb.GetActionRequest, context: Any) -> state_pb.GetActionResponse:
        entry = await entry_of(self.backend, request.id)
        msg = entry.published.get(request.id.name)
        rec = entry.actions.get(request.id.name)
        if msg is None or rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        spec = await self.backend.catalog.get(rec.task_key)
        resp = state_pb.GetActionResponse(action=msg)
        if spec is not None:
            resp.task.CopyFrom(spec)
        if request.with_inputs and rec.inputs_uri:  # debugging the action in a notebook (issue 17)
            resp.inputs = await asyncio.to_thread(_storage.get_bytes, rec.inputs_uri)
        return resp

    @guard
    async def TailLogs(self, request: state_pb.TailLogsRequest, context: Any) -> Any:
        b = self.backend
        entry = await entry_of(b, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        number = request.attempt or rec.attempt
        if number <= 0:
            return
        spec = await b.catalog.get(rec.task_key)
        if spec is None:
            return
        current = b.executor.attempts.get(rec.key)
        handle = current.handle if current is not None and current.number == number else None
        launch = await b.executor._launch_spec(Attempt(entry, rec, number), spec)
        plugin = b.registry.get(launch.task_type)
        batch: list[state_pb.LogLine] = []
        last = time.monotonic()
        async for line in plugin.logs(launch, handle, follow=request.follow):
            batch.append(state_pb.LogLine(stream=line.stream, text=line.text, timestamp=line.timestamp, attempt=number))
            if len(batch) >= 200 or time.monotonic() - last > 0.1:
                yield state_pb.TailLogsResponse(lines=batch)
                batch, last = [], time.monotonic()
        if batch:
            yield state_pb.TailLogsResponse(lines=batch)
