"""The `ChildGateway`: nested calls of the actions that run on this machine, without the network.

Why: a warm worker's nested call over gRPC costs one EnqueueActions call, one Watch stream opened
and cancelled per parent and the interceptors of both: a third of a reusable chain level's CPU here
(README, "Where issue 15 stands"). The local plugin hands its warm workers and forked attempts a
private socket instead (`plugins/local/link.py`), and their requests arrive here.

The checks are EnqueueActions' own (`QueueService.enqueue_all`) and the watch is the state
service's subscription, so a child enqueued either way is the same child. The authority is
narrower than a run credential's: the plugin passes only requests for a parent that the asking
process runs now.
"""

from __future__ import annotations

from typing import Callable

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter.backend.executor.plugin import ChildRefused
from flyte_jupyter.backend.services.auth import status_of
from flyte_jupyter.backend.services.context import Backend, entry_of
from flyte_jupyter.backend.services.queue import QueueService


class ChildGateway:
    """See the module docstring; one per backend, given to every plugin (`ExecutorPlugin.children`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.queue = QueueService(backend)

    async def enqueue(self, requests: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        try:
            return await self.queue.enqueue_all(requests)
        except Exception as exc:  # noqa: BLE001 - every failure is the status the gRPC call would get
            code, message = status_of(exc, "a linked EnqueueActions")
            raise ChildRefused(code.name, message) from None

    async def watch(self, parent: pb.ActionIdentifier,
                    deliver: Callable[[pb.Action], None]) -> tuple[list[pb.Action], Callable[[], None]]:
        try:
            entry = await entry_of(self.backend, parent)
        except Exception as exc:  # noqa: BLE001
            code, message = status_of(exc, "a linked Watch")
            raise ChildRefused(code.name, message) from None
        hub = self.backend.hub
        sub, snapshot = hub.subscribe(entry, parent.name, 0, terminal_only=True, deliver=deliver)
        return snapshot, lambda: hub.unsubscribe(entry, sub)
