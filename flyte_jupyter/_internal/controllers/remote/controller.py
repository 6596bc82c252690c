"""The remote controller and its informers: nested task calls inside a remote action.

A call `child(x)` inside a running action becomes EnqueueAction(child) under its deterministic name
(parent, task, inputs hash, call order), then waits for the child through an *informer*: one watch
stream per parent on the state service that keeps a live copy of that parent's children. Every
child of a parent shares that one stream, however many there are.

Concurrent calls (asyncio.gather, flyte.map) are enqueued in batches: the calls made within one
loop iteration go out as one EnqueueActions call, and one batch at a time so that the backend
creates (and admits) children in call order.

In a warm worker or a forked attempt both go over the process's link to the backend instead of
gRPC (`link.py`): the same requests and answers without the transport, and over gRPC again if the link closes.

A deployed task (`flyte.remote.Task`) awaited here is enqueued by reference (`task_ref`, the version
read once with GetTask): the child runs the registered spec, with its inputs encoded and its output
decoded as the registration typed them.

A retried parent computes the same child names; the backend answers "exists", the informer's first
snapshot already holds the child's final state, and a child that succeeded is not run again.

Structured concurrency: cancelling the asyncio task that awaits a child aborts the child on the
backend (QueueService.AbortQueuedAction, which stops it and its descendants); when the action itself
ends, the backend aborts every child it left queued or running (the executor does so for any action
that reaches a terminal phase; a parent that will be retried keeps them, so its next attempt finds
them again). A child's failure is raised as the class `errors.action_failure` picks, the same class
the local controller raises.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from typing import Any

from flyte_jupyter import _context
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.controllers.remote.informer import SUCCESS, TERMINAL, Informer
from flyte_jupyter._internal.controllers.remote.link import Link, LinkClosed
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.naming import child_action_name
from flyte_jupyter._internal.runtime.spec import (
    CodeRef,
    decode_output,
    encode_inputs,
    task_spec,
)
from flyte_jupyter._internal.wire.convert import phase_from_pb
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter.errors import BackendError, action_failure

_BATCH = 500


class _Batcher:
    """Collects EnqueueAction requests made in one loop iteration into one EnqueueActions call, and
    sends those calls one at a time, in call order.

    The backend stores children in the order their requests arrive and admits queued actions first
    come, first served, so the children of one gather must arrive in the order they were called. The
    calls of one gather can reach this loop over several iterations (a warm worker's loop hands them
    over from another thread), so they may span several batches; two batches sent at once could be
    stored the later one first. Requests made while a batch is on its way go together in the next.
    """

    def __init__(self, client: BackendClient, link: Link | None = None) -> None:
        self.client = client
        self.link = link
        self._pending: list[tuple[queue_pb.EnqueueActionRequest, asyncio.Future]] = []
        self._draining = False  # a drain is due or running: it sends whatever waits, a batch at a time

    def enqueue(self, req: queue_pb.EnqueueActionRequest) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((req, fut))
        if not self._draining:
            self._draining = True
            asyncio.ensure_future(self._drain())  # its first step runs after this iteration's calls
        return fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                items, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
                await self._send(items)
        finally:
            self._draining = False

    async def _send(self, items: list[tuple[queue_pb.EnqueueActionRequest, asyncio.Future]]) -> None:
        try:
            results = await self._enqueue([req for req, _ in items])
        except BaseException as exc:  # noqa: BLE001
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise  # the loop ends: send nothing more
            return
        for (_, fut), result in zip(items, results):
            if not fut.done():
                fut.set_result(result)

    async def _enqueue(self, reqs: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        if self.link is not None and not self.link.closed:
            try:
                return await self.link.enqueue_actions(reqs)
            except LinkClosed:
                pass  # the backend restarted: over gRPC (the same names, so nothing is enqueued twice)
        delay = 0.2
        for attempt in range(60):
            try:
                return await self.client.enqueue_actions(reqs)
            except BackendError as exc:
                if exc.code == "UNAVAILABLE" and attempt < 59:  # the backend restarts: try again
                    await asyncio.sleep(delay)
                    delay = min(delay * 1.5, 2.0)
                    continue
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")


class RemoteController:
    """Launches child actions of the actions running in this process (see the module docstring)."""

    def __init__(self, *, run_name: str, project: str, domain: str, code: CodeRef, raw_data_path: str,
                 client: BackendClient | None = None, owns_client: bool = True, link: Link | None = None) -> None:
        self.run_name = run_name
        self.project = project
        self.domain = domain
        self.code = code
        self.raw_data_path = raw_data_path
        self.storage_root = os.environ.get("FLYTE_JUPYTER_STORAGE_ROOT", "")
        self.overwrite_cache = bool(os.environ.get("FLYTE_JUPYTER_OVERWRITE_CACHE"))
        self.client = client or BackendClient(
            os.environ["FLYTE_JUPYTER_ENDPOINT"], os.environ.get("FLYTE_JUPYTER_TOKEN"),
            insecure=os.environ.get("FLYTE_JUPYTER_INSECURE", "1") == "1", project=project, domain=domain,
            ca_cert=os.environ.get("FLYTE_JUPYTER_CA_CERT") or None,
        )
        self._owns_client = owns_client or client is None  # a shared client outlives this controller
        self._informers: dict[str, Informer] = {}
        self.link = link  # the process's link to its backend (see the module docstring)
        self._batcher = _Batcher(self.client, link)
        self._seq: dict[str, itertools.count] = {}
        self._lock = threading.Lock()
        self._specs: dict[str, pb.TaskSpec] = {}
        self._extra_code: dict[str, CodeRef] = {}
        self._aborts: set[asyncio.Task] = set()

    def _next_seq(self, parent: str) -> int:
        with self._lock:
            counter = self._seq.setdefault(parent, itertools.count())
            return next(counter)

    def _informer(self, parent: str) -> Informer:
        informer = self._informers.get(parent)
        if informer is None:
            informer = self._informers[parent] = Informer(self.client, self.run_name, parent, self.project, self.domain,
                                                          self.link)
        return informer

    def warm(self, parent: str) -> None:
        """Open the watch on `parent`'s children now (connecting the channel), before its first
        call needs it; on this controller's loop."""
        self._informer(parent)

    def _code_for(self, task: Any) -> CodeRef:
        """The bundle a child loads: the run's own, or (a task outside a pickle bundle) its own pickle."""
        if self.code.kind == "pkl" and task.name not in self.code.task_names:
            code = self._extra_code.get(task.name)
            if code is None:
                from flyte_jupyter._internal.runtime.bundle import build_pickle_bundle

                root = self.storage_root or _storage.raw_data_path()
                bundle = build_pickle_bundle(task, root, {task.name: task})
                code = CodeRef("pkl", bundle.uri, self.code.version, self.code.image_cache,
                               task_names=bundle.task_names)
                self._extra_code[task.name] = code
            return code
        if self.code.kind == "tgz" and task.func.__module__ == "__main__":
            raise RuntimeError(f"task {task.name} is defined in __main__ of an action; define it in a module")
        return self.code

    def _spec(self, task: Any) -> pb.TaskSpec:
        spec = self._specs.get(task.name)
        if spec is None:
            image = ""
            if self.code.image_cache:
                try:
                    from flyte_jupyter._internal.imagebuild.for_run import (
                        reference_from_cache_arg,
                    )

                    image = reference_from_cache_arg(task, self.code.image_cache)
                except ImportError:
                    image = ""
            spec = task_spec(task, self._code_for(task), self.project, self.domain, image)
            self._specs[task.name] = spec
        return spec

    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        parent = _context.ctx()
        if parent is None:
            raise RuntimeError(f"task {task.name} was submitted outside of a running action")
        if getattr(task, "_deployed", False):
            return await self._submit_ref(parent, task, args, kwargs)
        inputs = task.bind(args, kwargs)
        data, full_hash, cache_hash = encode_inputs(task, inputs, self.raw_data_path or None,
                                                    custom_context=parent.custom_context or None)
        return await self._child(parent.action.name, task, full_hash, data,
                                 cache_hash if task.cache.enabled else "", task=self._spec(task))

    async def _submit_ref(self, parent: Any, deployed: Any, args: tuple, kwargs: dict) -> Any:
        """A deployed task as a child by reference to its registered version."""
        details = await deployed._details_via(self.client)
        data, full_hash, cache_hash = deployed._encode(args, kwargs, self.raw_data_path or None,
                                                       parent.custom_context or None)
        ref = pb.TaskIdentifier(project=details.id.project, domain=details.id.domain, name=details.id.name,
                                version=details.id.version)
        return await self._child(parent.action.name, deployed, full_hash, data, cache_hash, task_ref=ref)

    async def _child(self, parent_name: str, callee: Any, full_hash: str, data: bytes, cache_hash: str,
                     **which: Any) -> Any:
        """Enqueue the child of `callee` (`which`: its `task` spec or `task_ref`) unless it has ended
        already, and wait for it."""
        from flyte_jupyter._group import current_group

        name = child_action_name(parent_name, callee.name, full_hash, self._next_seq(parent_name))
        informer = self._informer(parent_name)
        known = informer.actions.get(name)
        if known is None or known.phase not in TERMINAL:
            inputs_uri = ""
            if self.storage_root:
                # The layout the backend uses for inline inputs too: runs/P/D/RUN/inputs/ACTION.pb
                inputs_uri = _storage.join(self.storage_root, "runs", self.project, self.domain, self.run_name,
                                           "inputs", f"{name}.pb")
                _storage.put_bytes(inputs_uri, data)
            req = queue_pb.EnqueueActionRequest(
                id=pb.ActionIdentifier(project=self.project, domain=self.domain, run=self.run_name, name=name),
                parent=parent_name, inputs_uri=inputs_uri, inputs=b"" if inputs_uri else data, inputs_hash=cache_hash,
                group=current_group() or "", overwrite_cache=self.overwrite_cache, **which,
            )
            try:
                await self._batcher.enqueue(req)
            except asyncio.CancelledError:
                self._abort(name, "aborted: the task awaiting it was cancelled")
                raise
        try:
            final = await informer.wait(name)
        except asyncio.CancelledError:
            self._abort(name, "aborted: the task awaiting it was cancelled")
            raise
        return self._result(callee, final)

    def _abort(self, name: str, reason: str) -> None:
        """Abort the child `name` (and its descendants) on the backend, without waiting here;
        `aclose` waits for the aborts still in flight before the action's process ends."""
        async def send() -> None:
            try:
                await self.client.abort_queued_action(self.run_name, name, reason, self.project, self.domain)
            except BackendError:
                pass  # it had ended already, or the run did: nothing left to stop

        task = asyncio.ensure_future(send())
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)

    def _result(self, task: Any, action: pb.Action) -> Any:
        if action.phase in SUCCESS:
            data = _storage.get_bytes(_storage.join(action.outputs_uri, "outputs.pb"))
            return decode_output(task, data)
        err = action.error
        phase = phase_from_pb(action.phase).value
        raise action_failure(
            action=action.id.name, task=task.name, kind=err.kind or phase,
            message=err.message or f"the action ended {phase}", attempts=action.attempt,
            max_attempts=action.max_attempts, traceback=err.traceback, phase=phase,
            origin=err.origin or "user",
        )

    async def aclose(self) -> None:
        if self._aborts:
            await asyncio.wait(list(self._aborts), timeout=30)
        for informer in list(self._informers.values()):
            await informer.close()
        self._informers.clear()
        if self._owns_client:
            await self.client.close()


__all__ = ["RemoteController", "Informer"]
