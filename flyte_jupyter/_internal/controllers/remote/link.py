"""A process's link: its nested calls over a socket it shares with the backend (a warm worker is
given it as it starts; a forked attempt asks for it: `runtime/worker_link.request`).

Why: over gRPC a nested call is one EnqueueActions call plus a Watch stream per parent (opened,
read, cancelled), with their interceptors on both sides: 1.3 ms of CPU for the transport alone on a
quiet machine here (`benchmarks/rpc_floor.py`), more with the interceptors; a line on a socket both
ends already hold costs 0.1 ms. Per level of a reusable chain the link took a third off the CPU.
The backend's end (`backend/plugins/local/link.py`) gives the protocol and serves only the actions
this process runs now.

The link belongs to the process (one socket, used from the controllers' loop only). When it
closes (the backend restarted; a busy worker outlives it), every call still open and every call
after goes over gRPC, as in any other process: `LinkClosed` says so to the caller, which falls
back. Enqueueing is idempotent (a child's name is deterministic), so a request that was in flight
when the link closed is simply sent again.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import socket
from typing import Any, AsyncIterator

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter.errors import BackendError

_LINE_LIMIT = 1 << 26


class LinkClosed(ConnectionError):
    """The link is gone: send this call over gRPC (see the module docstring)."""


def _b64(msg: Any) -> str:
    return base64.b64encode(msg.SerializeToString()).decode()


class Link:
    """The process's end (see the module docstring); every method runs on the controllers' loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._writer: asyncio.StreamWriter | None = None
        self._opening: asyncio.Future | None = None
        self._calls: dict[int, asyncio.Future | asyncio.Queue] = {}
        self._next = 0
        self._reader: asyncio.Future | None = None
        self.closed = False

    async def _open(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        if self._opening is None:
            # In a context of its own: the link outlives the action whose call opened it, and
            # must not keep that action's context (its controller, its run's credential) alive.
            self._opening = contextvars.Context().run(asyncio.ensure_future, self._connect())
        await asyncio.shield(self._opening)
        if self._writer is None:
            raise LinkClosed("the link to the backend did not open")
        if self.closed:  # it opened and its reader saw the end before this call woke (a dead peer)
            raise LinkClosed("the link to the backend closed")
        return self._writer

    async def _connect(self) -> None:
        try:
            reader, self._writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=self._fd),
                                                                      limit=_LINE_LIMIT)
        except OSError:
            self.closed = True
            return
        self._reader = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                msg = json.loads(line)
                target = self._calls.get(msg["q"])
                if target is None:
                    continue
                if "error" in msg:
                    code, message = msg["error"]
                    self._deliver(msg["q"], target, BackendError(code, message))
                else:
                    self._deliver(msg["q"], target, base64.b64decode(msg["ok"]))
        except (OSError, ValueError, KeyError):
            pass  # a broken link is a closed one
        finally:
            self.closed = True
            for q, target in list(self._calls.items()):
                self._deliver(q, target, LinkClosed("the link to the backend closed"))
            if self._writer is not None:
                self._writer.close()

    def _deliver(self, q: int, target: asyncio.Future | asyncio.Queue, value: Any) -> None:
        if isinstance(target, asyncio.Queue):
            target.put_nowait(value)
            return
        self._calls.pop(q, None)
        if not target.done():
            if isinstance(value, BaseException):
                target.set_exception(value)
            else:
                target.set_result(value)

    async def _send(self, msg: dict, target: asyncio.Future | asyncio.Queue) -> int:
        if self.closed:
            raise LinkClosed("the link to the backend closed")
        writer = await self._open()
        self._next += 1
        q = msg["q"] = self._next
        self._calls[q] = target
        writer.write(json.dumps(msg).encode() + b"\n")
        return q

    async def enqueue_actions(self, requests: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        """EnqueueActions over the link; raises BackendError as the call would, or LinkClosed."""
        fut = asyncio.get_running_loop().create_future()
        await self._send({"enqueue": _b64(queue_pb.EnqueueActionsRequest(actions=requests))}, fut)
        return list(queue_pb.EnqueueActionsResponse.FromString(await fut).results)

    async def watch(self, parent: pb.ActionIdentifier) -> AsyncIterator[state_pb.WatchResponse]:
        """`parent`'s children that end: those ended already (with `synced`), then each as it ends.
        Raises BackendError when the backend refuses, LinkClosed when the link goes."""
        inbox: asyncio.Queue = asyncio.Queue()
        q = await self._send({"watch": _b64(parent)}, inbox)
        try:
            while True:
                item = await inbox.get()
                if isinstance(item, BaseException):
                    raise item
                yield state_pb.WatchResponse.FromString(item)
        finally:
            self._calls.pop(q, None)
            if not self.closed and self._writer is not None:
                self._writer.write(json.dumps({"unwatch": q}).encode() + b"\n")
