"""An action's link: the backend's end of a private socket over which the actions of one process
make their nested calls (`_internal/controllers/remote/link.py` is the process's end) instead of
over gRPC (see `services/children.py` for why). A reusable worker gets its link as it starts (the
second socket the pool passes it); a forked attempt asks for one on its first nested call, sending
its end of a new socket pair with a datagram on the report socket (`reports.py`, `serve_forked`).

Protocol (JSON lines; protobuf messages as base64 of their serialized bytes):
  process -> backend {"q": N, "enqueue": EnqueueActionsRequest}
                     {"q": N, "watch": ActionIdentifier}     the parent whose children to watch
                     {"unwatch": N}
  backend -> process {"q": N, "ok": EnqueueActionsResponse}
                     {"q": N, "ok": WatchResponse}  for a watch: first its ended children (synced),
                                                     then each child that ends, as it ends
                     {"q": N, "error": [CODE, MESSAGE]}  CODE: the gRPC status name the same request
                                                          would get; ends that request or watch
Authority: a request is served only for a parent action the process runs now (the run credential
in its environment reaches its whole run); a watch ends when its parent's attempt does, and a
forked attempt's link with its attempt. A line that is not this protocol closes the link: the
process's calls go over gRPC from then on (a worker is also retired once the actions it runs end,
and the pool starts a fresh one).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import socket
from typing import TYPE_CHECKING, Any, Callable, Protocol

from google.protobuf.message import DecodeError

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter.backend.executor.plugin import ChildGateway, ChildRefused

if TYPE_CHECKING:
    from flyte_jupyter.backend.plugins.local.process import AttemptProc

log = logging.getLogger("flyte_jupyter.backend")

#: The longest line a process may send: a batch of 500 children with inline inputs fits.
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


class LinkOwner(Protocol):
    """The process at a link's other end, as the link asks about it."""

    pid: int

    def describe(self) -> str:
        """What the process is, for the backend's log ("reusable worker 123")."""

    def runs(self, project: str, domain: str, run: str, action: str) -> bool:
        """Whether the process runs that action now: the link acts for it and for nothing else."""

    def link_closed(self) -> None:
        """The link is gone: the process's calls go over gRPC from now on."""


class ActionLink:
    """The backend's end of one process's link (see the module docstring)."""

    def __init__(self, owner: LinkOwner, gateway: ChildGateway) -> None:
        self.owner = owner
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
                    log.warning("%s sent a line that is not its link's protocol; link closed", self.owner.describe())
                    return
        except (ValueError, ConnectionError) as exc:  # a line over LINE_LIMIT, or the process is gone
            log.warning("%s: link closed: %s", self.owner.describe(), exc)
        finally:
            for _, stop in self._watches.values():
                stop()
            self._watches.clear()
            writer.close()
            self.owner.link_closed()

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

    def _refuse_unless_running(self, project: str, domain: str, run: str, parent: str) -> None:
        if not self.owner.runs(project, domain, run, parent):
            raise ChildRefused("PERMISSION_DENIED", f"action {parent!r} of run {run!r} ({project}/{domain}) is not "
                                                    "running in this process; a link acts only for its own actions")

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
        """The process's attempt of that action ended: its watches go (its own calls ended before)."""
        key = (project, domain, run, action)
        for q in [q for q, (k, _) in self._watches.items() if k == key]:
            self._unwatch(q)
            self._reply(q, "error", ["FAILED_PRECONDITION", f"action {action!r} of run {run!r} is no longer running"])


class _Forked:
    """A forked attempt as its link's owner: one action, until its attempt ends."""

    def __init__(self, proc: "AttemptProc") -> None:
        self.proc = proc
        self.pid = proc.pid

    def describe(self) -> str:
        return f"forked attempt {self.pid} ({self.proc.spec.action_name} of {self.proc.spec.run_name})"

    def runs(self, project: str, domain: str, run: str, action: str) -> bool:
        s = self.proc.spec
        return (not self.proc.exited.is_set() and (s.project, s.domain, s.run_name, s.action_name)
                == (project, domain, run, action))

    def link_closed(self) -> None:
        pass  # the attempt's own calls fall back to gRPC; nothing else shares its process


_forked_links: set[asyncio.Future] = set()  # served until their attempt ends (the loop keeps weak references)


def serve_forked(proc: "AttemptProc", sock: socket.socket, gateway: ChildGateway) -> None:
    """Serve the link a forked attempt asked for (its end came on the report socket) until the
    link or the attempt ends, whichever is first; the socket is the link's from here on."""
    link = ActionLink(_Forked(proc), gateway)

    async def serve() -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=LINE_LIMIT)
        except OSError:
            sock.close()
            return
        serving = asyncio.ensure_future(link.serve(reader, writer))
        ended = asyncio.ensure_future(proc.exited.wait())
        await asyncio.wait({serving, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():  # the attempt ended (its report came, or its exit): so does its link
            s = proc.spec
            link.ended(s.project, s.domain, s.run_name, s.action_name)
            link.lines.flush()
            writer.close()
            await serving
        ended.cancel()

    fut = asyncio.ensure_future(serve())
    _forked_links.add(fut)
    fut.add_done_callback(_forked_links.discard)
