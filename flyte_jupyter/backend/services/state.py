"""StateService: watch a run's actions, read one action, and stream its logs (one action's, or a
run's every action's: `run_logs`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter.backend.executor.plugin import LogLine
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import Backend, entry_of
from flyte_jupyter.backend.services.run_logs import RunLogStream, attempt_lines, check_request

_WATCH_CHUNK = 2000
_LOG_BATCH = 200
_LOG_IDLE = 0.02  # seconds a batch waits for the plugin's next line before it goes out


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
        entry = await _entry_with_logs_here(b, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        number = request.attempt or rec.attempt
        if number <= 0:
            return
        async for batch in _batches(attempt_lines(b, entry, rec, number, follow=request.follow)):
            yield state_pb.TailLogsResponse(lines=[
                state_pb.LogLine(stream=line.stream, text=line.text, timestamp=line.timestamp, attempt=number,
                                 partial=line.partial) for line in batch])

    @guard
    async def TailRunLogs(self, request: state_pb.TailRunLogsRequest, context: Any) -> Any:
        check_request(request)
        b = self.backend
        entry = await _entry_with_logs_here(b, request.run)
        async for msg in RunLogStream(b, entry, request).stream():
            yield msg


async def _entry_with_logs_here(b: Any, id_: Any) -> Any:
    """The run's entry, when this replica's disk holds its logs: an ended run another replica drove
    is refused with where its logs are (the interceptor forwards the call there)."""
    entry = await entry_of(b, id_)
    if b.hub.replica is not None:
        elsewhere = await b.hub.replica.logs_elsewhere(entry.run.key)
        if elsewhere is not None:
            raise elsewhere
    return entry


async def _batches(lines: AsyncIterator[LogLine]) -> AsyncIterator[list[LogLine]]:
    """Lines in batches of up to `_LOG_BATCH`: a batch goes out as soon as the plugin has no next
    line ready (`_LOG_IDLE`), so a lone line (a progress bar's new state) is never held back."""
    it = lines.__aiter__()
    batch: list[LogLine] = []
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(it.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=_LOG_IDLE if batch else None)
            if not done:
                yield batch
                batch = []
                continue
            try:
                line = pending.result()
            except StopAsyncIteration:
                pending = None
                break
            pending = None
            batch.append(line)
            if len(batch) >= _LOG_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if pending is not None:  # the caller went away while the plugin was waiting for a line
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        closer = getattr(it, "aclose", None)
        if closer is not None:
            await closer()
