"""The informer: a live copy of one parent action's children, fed by one watch stream on the state
service (in a process with a link, by a watch on it: `link.py`), however many children there are; a
nested call waits on it for its child's end."""

from __future__ import annotations

import asyncio
from typing import Iterable

from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.controllers.remote.link import Link, LinkClosed
from flyte_jupyter._internal.wire.proto import common_pb2 as pb

SUCCESS = {pb.PHASE_SUCCEEDED, pb.PHASE_RECOVERED}  # RECOVERED: outputs reused from an earlier run
TERMINAL = {*SUCCESS, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}


class Informer:
    """A live copy of one parent's children, fed by one watch stream."""

    def __init__(self, client: BackendClient, run: str, parent: str, project: str, domain: str,
                 link: Link | None = None) -> None:
        self.client = client
        self.link = link
        self.run = run
        self.parent = parent
        self.project = project
        self.domain = domain
        self.actions: dict[str, pb.Action] = {}
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self.synced = asyncio.Event()
        self._failure: BaseException | None = None
        self._task = asyncio.ensure_future(self._run())

    def _take(self, actions: Iterable[pb.Action], synced: bool) -> None:
        for action in actions:
            self.actions[action.id.name] = action
            if action.phase in TERMINAL:
                for fut in self._waiters.pop(action.id.name, ()):
                    if not fut.done():
                        fut.set_result(action)
        if synced:
            self.synced.set()

    async def _run(self) -> None:
        try:
            if self.link is not None and not self.link.closed:
                parent = pb.ActionIdentifier(project=self.project, domain=self.domain, run=self.run, name=self.parent)
                try:
                    async for msg in self.link.watch(parent):
                        self._take(msg.actions, msg.synced)
                except LinkClosed:
                    pass  # the backend restarted: watch over gRPC (its snapshot repeats what we saw)
            async for batch in self.client.watch_raw(self.run, self.parent, project=self.project, domain=self.domain,
                                                     terminal_only=True):
                self._take(batch.actions, batch.synced)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - hand the failure to every waiter
            self._failure = exc
            for futs in self._waiters.values():
                for fut in futs:
                    if not fut.done():
                        fut.set_exception(exc)
            self._waiters.clear()

    async def wait(self, name: str) -> pb.Action:
        """The child's final state (at once if the informer already saw it end)."""
        known = self.actions.get(name)
        if known is not None and known.phase in TERMINAL:
            return known
        if self._failure is not None:
            raise self._failure
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, []).append(fut)
        return await fut

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):
            pass
