"""A warm worker's link: the backend's end of the second socket every reusable worker gets, over
which the actions it runs make their nested calls (`_internal/controllers/remote/link.py` is the
worker's end) instead of over gRPC (see `services/children.py` for why).

Protocol (JSON lines; protobuf messages as base64 of their serialized bytes):
  worker -> backend  {"q": N, "enqueue": EnqueueActionsRequest}
                     {"q": N, "watch": ActionIdentifier}     the parent whose children to watch
                     {"unwatch": N}
  backend -> worker  {"q": N, "ok": EnqueueActionsResponse}
                     {"q": N, "ok": WatchResponse}  for a watch: first its ended children (synced),
                                                     then each child that ends, as it ends
                     {"q": N, "error": [CODE, MESSAGE]}  CODE: the gRPC status name the same request
                                                          would get; ends that request or watch
Authority: a request is served only for a parent action the worker runs now (the run credential
in the worker's environment reaches its whole run); a watch ends when its parent's attempt does.
A line that is not this protocol closes the link: the worker's calls go over gRPC from then on,
and the worker is retired once the actions it runs end (the pool starts a fresh one).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any, Callable

from google.protobuf.message import DecodeError

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter.backend.executor.plugin import ChildGateway, ChildRefused

if TYPE_CHECKING:
    from flyte_jupyter.backend.plugins.local.workers import Worker

log = logging.getLogger("flyte_jupyter.backend")

#: The longest line a worker may send: a batch of 500 children with inline inputs fits.
LINE_LIMIT = 1 << 26


class BatchedLines:
    """Lines for one stream, written together with the others queued in the same turn of the
    loop: a slice of admitted children (or of children that ended) costs one write, a system call
    and one wake-up of the reader, not one per line. Order is kept."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self._out: list[bytes] = []

    def send(self, line: bytes) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(line)

    def flush(self) -> None:
        data, self._out = b"".join(self._out), []
        if data and self.writer is not None and not self.writer.is_closing():
            self.writer.write(data)


def _encode(msg: Any) -> str:
    return base64.b64encode(msg.SerializeToString()).decode()


def _decode(cls: Any, data: str, what: str) -> Any:
    """The protobuf message `cls` a request carries as base64, or a refusal that says why not."""
    try:
        return cls.FromString(base64.b64decode(data, validate=True))
    except (binascii.Error, DecodeError) as exc:
        raise ChildRefused("INVALID_ARGUMENT", f"the {what} request does not parse: {exc}") from None


class WorkerLink:
    """The backend's end of one worker's link (see the module docstring)."""

    def __init__(self, worker: "Worker", gateway: ChildGateway) -> None:
        self.worker = worker
        self.gateway = gateway
        self.lines = BatchedLines()
        self._watches: dict[int, tuple[tuple[str, str, str, str], Callable[[], None]]] = {}
        self._pushes: dict[int, list[pb.Action]] = {}  # changes of this turn of the loop, per watch
        self._serving: set[asyncio.Future] = set()  # requests in progress (the loop keeps weak references)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.lines.writer = writer
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if not self._take(line):
                    log.warning("reusable worker %s sent a line that is not its link's protocol; link closed",
                                self.worker.pid)
                    return
        except (ValueError, ConnectionError) as exc:  # a line over LINE_LIMIT, or the worker is gone
            log.warning("reusable worker %s: link closed: %s", self.worker.pid, exc)
        finally:
            for _, stop in self._watches.values():
                stop()
            self._watches.clear()
            writer.close()
            self.worker.retire()

    def _take(self, line: bytes) -> bool:
        try:
            msg = json.loads(line)
        except ValueError:
            return False
        if not isinstance(msg, dict):
            return False
        if isinstance(msg.get("unwatch"), int):
            self._unwatch(msg["unwatch"])
            return True
        q = msg.get("q")
        if not isinstance(q, int):
            return False
        if isinstance(msg.get("enqueue"), str):
            task = asyncio.ensure_future(self._enqueue(q, msg["enqueue"]))
        elif isinstance(msg.get("watch"), str):
            task = asyncio.ensure_future(self._watch(q, msg["watch"]))
        else:
            return False
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        return True

    def _runs(self, project: str, domain: str, run: str, parent: str) -> bool:
        """Whether the worker runs action `parent` of that run now."""
        return any(s.action_name == parent and s.run_name == run and s.project == project and s.domain == domain
                   for s in (p.spec for p in self.worker.running.values()))

    def _refuse_unless_running(self, project: str, domain: str, run: str, parent: str) -> None:
        if not self._runs(project, domain, run, parent):
            raise ChildRefused("PERMISSION_DENIED", f"action {parent!r} of run {run!r} ({project}/{domain}) is not "
                                                    "running in this worker; a worker acts only for its own actions")

    def _reply(self, q: int, key: str, value: Any) -> None:
        self.lines.send(json.dumps({"q": q, key: value}).encode() + b"\n")

    async def _enqueue(self, q: int, data: str) -> None:
        try:
            request = _decode(queue_pb.EnqueueActionsRequest, data, "enqueue")
            for req in request.actions:
                self._refuse_unless_running(req.id.project, req.id.domain, req.id.run, req.parent)
            results = await self.gateway.enqueue(list(request.actions))
        except ChildRefused as exc:
            self._reply(q, "error", [exc.code, exc.message])
            return
        self._reply(q, "ok", _encode(queue_pb.EnqueueActionsResponse(results=results)))

    async def _watch(self, q: int, data: str) -> None:
        try:
            parent = _decode(pb.ActionIdentifier, data, "watch")
            key = (parent.project, parent.domain, parent.run, parent.name)
            self._refuse_unless_running(*key)
            if q in self._watches:
                raise ChildRefused("ALREADY_EXISTS", f"watch {q} exists on this link")
            snapshot, stop = await self.gateway.watch(parent, lambda action: self._push(q, action))
        except ChildRefused as exc:
            self._reply(q, "error", [exc.code, exc.message])
            return
        self._watches[q] = (key, stop)
        self._reply(q, "ok", _encode(state_pb.WatchResponse(actions=snapshot, synced=True)))

    def _push(self, q: int, action: pb.Action) -> None:
        batch = self._pushes.get(q)
        if batch is None:
            batch = self._pushes[q] = []
            asyncio.get_running_loop().call_soon(self._send_pushes, q)
        batch.append(action)

    def _send_pushes(self, q: int) -> None:
        actions = self._pushes.pop(q, [])
        if actions and q in self._watches:
            self._reply(q, "ok", _encode(state_pb.WatchResponse(actions=actions)))

    def _unwatch(self, q: int) -> None:
        watch = self._watches.pop(q, None)
        if watch is not None:
            watch[1]()

    def ended(self, project: str, domain: str, run: str, action: str) -> None:
        """The worker's attempt of that action ended: its watches go (its own calls ended before)."""
        key = (project, domain, run, action)
        for q in [q for q, (k, _) in self._watches.items() if k == key]:
            self._unwatch(q)
            self._reply(q, "error", ["FAILED_PRECONDITION", f"action {action!r} of run {run!r} is no longer running"])
