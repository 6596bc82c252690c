"""The logs of a run's actions: one attempt's lines (TailLogs) and every action's in one stream
(TailRunLogs).

A live view of a run with thousands of actions used to open a TailLogs per action (a stream
set up and torn down on both sides for each, most of them empty). `RunLogStream` follows the
run's actions itself: it watches the run's published changes for attempts that started, reads
each started attempt's log (following it while it runs, at most `_READERS` at a time) and sends
every line tagged with its action, batched across actions, until the run has ended and every
followed attempt is read. What one request may ask for is bounded (`MAX_ACTIONS` actions, as
many resume cursors), and the lines waiting to be sent are bounded too (`_BUFFERED`): a slow
reader slows the log readers down instead of growing the backend's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

import grpc

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter.backend.executor.executor import Attempt
from flyte_jupyter.backend.executor.plugin import LogLine
from flyte_jupyter.backend.services.auth import Refuse
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.state import RunEntry, Subscriber
from flyte_jupyter.backend.store.base import ActionRecord

MAX_ACTIONS = 1000
_READERS = 8  # attempts whose log is read at once, per stream (as many as the widget used to open)
_BUFFERED = 2000  # lines read and not sent yet, per stream
_BATCH = 200
_ROOT = "a0"
_STARTED = frozenset({pb.PHASE_RUNNING, pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_TIMED_OUT, pb.PHASE_ABORTED})
_ENDED = frozenset({pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_TIMED_OUT, pb.PHASE_ABORTED, pb.PHASE_RECOVERED})


async def attempt_lines(b: Backend, entry: RunEntry, rec: ActionRecord, number: int,
                        follow: bool) -> AsyncIterator[LogLine]:
    """One attempt's lines from its plugin (following it while it runs, with `follow`)."""
    spec = await b.catalog.get(rec.task_key)
    if spec is None:
        return
    current = b.executor.attempts.get(rec.key)
    handle = current.handle if current is not None and current.number == number else None
    launch = await b.executor._launch_spec(Attempt(entry, rec, number), spec)
    plugin = b.registry.get(launch.task_type)
    lines = plugin.logs(launch, handle, follow=follow)
    try:
        async for line in lines:
            yield line
    finally:  # the reader went away: the plugin's follow (a poll loop, a container's stream) ends now
        closer = getattr(lines, "aclose", None)
        if closer is not None:
            await closer()


def check_request(request: state_pb.TailRunLogsRequest) -> None:
    """Refuse a request that asks for too much or names an action twice, before anything starts."""
    if not 1 <= request.max_actions <= MAX_ACTIONS:
        raise Refuse(grpc.StatusCode.INVALID_ARGUMENT,
                     f"max_actions is {request.max_actions}; ask for 1 to {MAX_ACTIONS} actions")
    if len(request.resume) > request.max_actions:
        raise Refuse(grpc.StatusCode.INVALID_ARGUMENT,
                     f"{len(request.resume)} resume cursors for max_actions={request.max_actions}; "
                     "send at most one per followed action")
    names = [c.action for c in request.resume]
    if len(set(names)) != len(names):
        raise Refuse(grpc.StatusCode.INVALID_ARGUMENT, "a resume cursor names an action twice; send one per action")
    for c in request.resume:
        if c.attempt < 1 or c.lines < 0:
            raise Refuse(grpc.StatusCode.INVALID_ARGUMENT,
                         f"resume cursor of {c.action!r} has attempt {c.attempt} and lines {c.lines}; "
                         "an attempt counts from 1 and lines from 0")


class _Started(Subscriber):
    """The changes a log stream needs: an attempt that started, and the root's (the run's end)."""

    def wants(self, msg: pb.Action) -> bool:
        return (msg.attempt >= 1 and msg.phase in _STARTED) or msg.id.name == _ROOT


class RunLogStream:
    """One TailRunLogs stream: follows the run's started attempts and yields tagged lines."""

    def __init__(self, backend: Backend, entry: RunEntry, request: state_pb.TailRunLogsRequest) -> None:
        self.b = backend
        self.entry = entry
        self.max_actions = request.max_actions
        # action -> (attempt, lines) delivered before; these actions are followed first
        self.resume = {c.action: (c.attempt, c.lines) for c in request.resume}
        self.wanted: dict[str, int] = {name: 0 for name in self.resume}  # action -> latest started attempt
        self.done: dict[str, int] = {name: attempt - 1 for name, (attempt, _) in self.resume.items()}
        self.active: dict[str, asyncio.Task] = {}
        self.waiting: list[str] = []
        self.readers = asyncio.Semaphore(_READERS)
        self.lines: asyncio.Queue = asyncio.Queue(_BUFFERED)
        self.ended = False
        self.closing = False  # the stream is going away: no reader starts again
        self.wake = asyncio.Event()

    async def stream(self) -> AsyncIterator[state_pb.TailRunLogsResponse]:
        hub = self.b.hub
        sub = _Started("", asyncio.Queue())
        self.entry.subscribers.add(sub)
        try:
            for msg in self.entry.published.after(0, sub.wants):
                self._seen(msg)
            watcher = asyncio.ensure_future(self._watch(sub))
            try:
                while not (self.ended and not self.active and not self.waiting and sub.inbox.empty()
                           and self.lines.empty()):
                    batch = await self._next_batch()
                    if batch:
                        yield state_pb.TailRunLogsResponse(lines=batch)
            finally:
                watcher.cancel()
                with contextlib.suppress(BaseException):
                    await watcher
        finally:
            hub.unsubscribe(self.entry, sub)
            self.closing = True
            for task in list(self.active.values()):
                task.cancel()
            for task in list(self.active.values()):
                with contextlib.suppress(BaseException):
                    await task

    async def _next_batch(self) -> list[state_pb.RunLogLine]:
        """The lines read so far (waiting for one, or for a change of what is followed)."""
        if self.lines.empty():
            self.wake.clear()
            getter = asyncio.ensure_future(self.lines.get())
            waker = asyncio.ensure_future(self.wake.wait())
            try:
                await asyncio.wait({getter, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()
                if not getter.done():
                    getter.cancel()
            if getter.cancelled() or not getter.done():
                return []
            batch = [getter.result()]
        else:
            batch = [self.lines.get_nowait()]
        while not self.lines.empty() and len(batch) < _BATCH:
            batch.append(self.lines.get_nowait())
        return batch

    async def _watch(self, sub: Subscriber) -> None:
        while True:
            self._seen(await sub.inbox.get())

    def _seen(self, msg: pb.Action) -> None:
        name = msg.id.name
        if name == _ROOT and msg.phase in _ENDED:
            self.ended = True
        if msg.attempt >= 1 and msg.phase in _STARTED:
            if name not in self.wanted and len(self.wanted) >= self.max_actions:
                pass  # beyond what the caller follows
            elif msg.attempt > self.wanted.get(name, 0):
                self.wanted[name] = msg.attempt
                if name not in self.active and name not in self.waiting:
                    self.waiting.append(name)
        while self.waiting and not self.closing:
            name = self.waiting.pop(0)
            self.active[name] = asyncio.ensure_future(self._read_action(name))
        self.wake.set()

    async def _read_action(self, name: str) -> None:
        try:
            while True:
                attempt = self.done.get(name, 0) + 1
                if attempt > self.wanted.get(name, 0):
                    break
                async with self.readers:
                    await self._read(name, attempt)
                self.done[name] = attempt
        finally:
            self.active.pop(name, None)
            if self.wanted.get(name, 0) > self.done.get(name, 0):
                self.waiting.append(name)
            self._seen(pb.Action())  # start what waits, wake the sender

    async def _read(self, name: str, attempt: int) -> None:
        rec = self.entry.actions.get(name)
        if rec is None:
            return
        skip = 0
        resumed = self.resume.get(name)
        if resumed is not None and resumed[0] == attempt:
            skip = resumed[1]
        try:
            lines = attempt_lines(self.b, self.entry, rec, attempt, follow=True)
            async for line in lines:
                if skip > 0:
                    skip -= 1
                    continue
                await self.lines.put(state_pb.RunLogLine(action=name, line=state_pb.LogLine(
                    stream=line.stream, text=line.text, timestamp=line.timestamp, attempt=attempt,
                    partial=line.partial)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one attempt's log that cannot be read does not end the others'
            await self.lines.put(state_pb.RunLogLine(action=name, line=state_pb.LogLine(
                stream="stderr", text=f"(the log of {name} attempt {attempt} could not be read: {exc})",
                attempt=attempt)))

