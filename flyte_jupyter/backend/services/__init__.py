"""The gRPC services: run, queue, state (watch, logs) and admin, over one shared Backend object."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import inspect
import logging
import os
import time
from typing import Any, Callable

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION, new_run_name
from flyte_jupyter._internal.wire.proto import admin_service_pb2 as admin_pb
from flyte_jupyter._internal.wire.proto import admin_service_pb2_grpc as admin_grpc
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2_grpc as queue_grpc
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import run_service_pb2_grpc as run_grpc
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter.backend.config import BackendConfig
from flyte_jupyter.backend.store.records import TERMINAL, ActionRecord, RunRecord
from flyte_jupyter.backend.state import RunEntry, StateHub
from flyte_jupyter.backend.store.sqlite import Store
from flyte_jupyter.backend.catalog import TaskCatalog, VersionConflict
from flyte_jupyter.backend.services.validation import (
    Invalid,
    check_action_name,
    check_inputs_size,
    check_project_domain,
    check_resources,
    check_run_name,
    check_task_spec,
    normalize_limits,
)
from flyte_jupyter.backend.executor.executor import Attempt, CacheIndex, Executor, cache_key
from flyte_jupyter.backend.executor.plugin import PluginRegistry

log = logging.getLogger("flyte_jupyter.backend")
_PHASE_NAMES = {v: k[len("PHASE_"):] for k, v in pb.Phase.items()}


@dataclasses.dataclass
class Backend:
    """Everything the services share."""

    config: BackendConfig
    store: Store
    hub: StateHub
    catalog: TaskCatalog
    cache: CacheIndex
    registry: PluginRegistry
    executor: Executor
    token: str
    limits: dict[tuple[str, str], dict[str, str]]
    version: str = ""

    def limits_for(self, project: str, domain: str) -> dict[str, str]:
        return {**self.config.limits, **self.limits.get((project, domain), {})}


# -- errors and auth -------------------------------------------------------------------------------


class _Refuse(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        self.message = message


def _guard(method: Callable) -> Callable:
    """Require the token on every call and turn validation errors into gRPC statuses."""

    def check(self: Any, context: grpc.aio.ServicerContext) -> str | None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                if hmac.compare_digest(value, f"Bearer {self.backend.token}"):
                    return None
                return "the token in the authorization metadata is wrong"
        return ("this backend requires a token: send 'authorization: Bearer <token>' metadata (the SDK does "
                "this after flyte.init_from_config('DIR/client.yaml'))")

    def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
        if isinstance(exc, _Refuse):
            return exc.code, exc.message
        if isinstance(exc, Invalid):
            return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        if isinstance(exc, VersionConflict):
            return grpc.StatusCode.ALREADY_EXISTS, str(exc)
        log.exception("internal error in %s", method.__name__)
        return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            problem = check(self, context)
            if problem:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
            try:
                async for item in method(self, request, context):
                    yield item
            except (_Refuse, Invalid, VersionConflict, Exception) as exc:
                if isinstance(exc, (asyncio.CancelledError, grpc.aio.AbortError)):
                    raise
                code, message = status_of(exc)
                await context.abort(code, message)

        return stream

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        problem = check(self, context)
        if problem:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001
            code, message = status_of(exc)
            await context.abort(code, message)

    return unary


async def _entry(backend: Backend, ident: pb.ActionIdentifier) -> RunEntry:
    project = ident.project or backend.config.project
    domain = ident.domain or backend.config.domain
    entry = await backend.hub.get((project, domain, ident.run))
    if entry is None:
        raise _Refuse(grpc.StatusCode.NOT_FOUND, f"run {ident.run!r} does not exist in {project}/{domain}; "
                                                 "`flyte-jupyter runs list` shows the runs there are")
    return entry


def _run_msg(entry: RunEntry) -> pb.Run:
    run = entry.run
    msg = pb.Run(id=pb.ActionIdentifier(project=run.project, domain=run.domain, run=run.name, name=ROOT_ACTION),
                 created_at=run.created_at, labels=run.labels, task_name=run.task_name,
                 action_count=len(entry.published))
    root = entry.published.get(ROOT_ACTION)
    if root is not None:
        msg.root.CopyFrom(root)
    return msg


def _write_inputs(backend: Backend, project: str, domain: str, run: str, action: str,
                  inline: bytes, uri: str) -> str:
    if uri:
        return uri
    target = backend.executor.inputs_uri(project, domain, run, action)
    _storage.put_bytes(target, inline)
    return target


# -- run service -----------------------------------------------------------------------------------


def _check_executor(b: Backend, spec: pb.TaskSpec) -> None:
    """Let the plugin that will run the task refuse it now, not at launch (e.g. the Kubernetes
    executor and a local venv image): a plugin may define ``check_task(spec)`` raising ValueError."""
    check = getattr(b.registry.get(spec.type or "python"), "check_task", None)
    if check is not None:
        try:
            check(spec)
        except ValueError as exc:
            raise Invalid(str(exc)) from None


class RunService(run_grpc.RunServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @_guard
    async def CreateRun(self, request: run_pb.CreateRunRequest, context: Any) -> run_pb.CreateRunResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        name = request.run_name or new_run_name()
        check_run_name(name)
        spec = pb.TaskSpec()
        spec.CopyFrom(request.task)
        spec.id.project, spec.id.domain = project, domain
        check_task_spec(spec)
        check_inputs_size(request.inputs)
        check_resources(spec, b.limits_for(project, domain))
        _check_executor(b, spec)
        key = (project, domain, name)
        if key in b.hub.runs or await b.store.get_run(*key) is not None:
            raise _Refuse(grpc.StatusCode.ALREADY_EXISTS,
                          f"run {name!r} already exists in {project}/{domain}; pick another run name")
        await b.catalog.register(spec)
        inputs_uri = _write_inputs(b, project, domain, name, ROOT_ACTION, request.inputs, request.inputs_uri)
        now = time.time()
        run = RunRecord(project, domain, name, now, spec.id.name, dict(request.labels), dict(request.env_vars),
                        request.raw_data_path, request.overwrite_cache)
        rec = ActionRecord(project, domain, name, ROOT_ACTION, "", spec.id.name, spec.id.version,
                           task_type=spec.type or "python", max_attempts=spec.retries.count + 1,
                           inputs_uri=inputs_uri, inputs_hash=request.inputs_hash,
                           overwrite_cache=request.overwrite_cache, queued_at=now)
        hit = _cache_hit(b, rec, spec)
        if key in b.hub.runs:
            raise _Refuse(grpc.StatusCode.ALREADY_EXISTS, f"run {name!r} already exists in {project}/{domain}")
        entry = await b.hub.create_run(run, rec)
        if not hit:
            b.executor.queue_new(entry, rec, spec)
        return run_pb.CreateRunResponse(run=_run_msg(entry))

    @_guard
    async def GetRun(self, request: run_pb.GetRunRequest, context: Any) -> run_pb.GetRunResponse:
        entry = await _entry(self.backend, request.id)
        actions = sorted(entry.published.values(), key=lambda a: (a.queued_at, a.seq))
        return run_pb.GetRunResponse(run=_run_msg(entry), actions=actions)

    @_guard
    async def ListRuns(self, request: run_pb.ListRunsRequest, context: Any) -> run_pb.ListRunsResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        out = []
        for run, root, count in await b.store.run_roots(project, domain, request.limit or 50):
            entry = b.hub.runs.get(run.key)
            if entry is not None:
                msg = _run_msg(entry)
            else:  # not in memory: what the store holds is what watchers were told
                msg = pb.Run(id=pb.ActionIdentifier(project=run.project, domain=run.domain, run=run.name,
                                                    name=ROOT_ACTION),
                             created_at=run.created_at, labels=run.labels, task_name=run.task_name,
                             action_count=count)
                if root is not None:
                    msg.root.CopyFrom(root.to_pb())
            if request.phase and _PHASE_NAMES.get(msg.root.phase) != request.phase.upper():
                continue
            out.append(msg)
        return run_pb.ListRunsResponse(runs=out)

    @_guard
    async def AbortRun(self, request: run_pb.AbortRunRequest, context: Any) -> run_pb.AbortRunResponse:
        entry = await _entry(self.backend, request.id)
        await self.backend.executor.abort_run(entry, request.reason or "aborted by user")
        return run_pb.AbortRunResponse()

    @_guard
    async def WatchRuns(self, request: run_pb.WatchRunsRequest, context: Any) -> Any:
        hub = self.backend.hub
        inbox = hub.watch_runs()
        try:
            while True:
                entry = await inbox.get()
                if request.project and entry.run.project != request.project:
                    continue
                if request.domain and entry.run.domain != request.domain:
                    continue
                yield run_pb.WatchRunsResponse(run=_run_msg(entry))
        finally:
            hub.unwatch_runs(inbox)


def _cache_hit(b: Backend, rec: ActionRecord, spec: pb.TaskSpec) -> bool:
    key = cache_key(rec, spec)
    hit = b.cache.get(key) if key is not None and not rec.overwrite_cache else None
    if hit is None:
        return False
    now = time.time()
    rec.phase = pb.PHASE_SUCCEEDED
    rec.cache_hit = True
    rec.attempt = 1
    rec.started_at = rec.ended_at = now
    rec.outputs_uri = hit.outputs_uri
    return True


# -- queue service ---------------------------------------------------------------------------------


class QueueService(queue_grpc.QueueServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _enqueue(self, req: queue_pb.EnqueueActionRequest, pending: list) -> queue_pb.EnqueueActionResponse:
        b = self.backend
        entry = await _entry(b, req.id)
        check_action_name(req.id.name)
        existing = entry.actions.get(req.id.name)
        if existing is not None:
            return queue_pb.EnqueueActionResponse(action=existing.to_pb(), existed=True)
        parent = entry.actions.get(req.parent)
        if parent is None:
            raise Invalid(f"parent action {req.parent!r} does not exist in run {entry.run.name}")
        root = entry.actions.get(ROOT_ACTION)
        if root is not None and root.terminal:
            raise _Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"run {entry.run.name} has ended ({_PHASE_NAMES[root.phase]}); it takes no new actions")
        if parent.terminal:
            raise _Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                          f"parent action {parent.name} has ended ({_PHASE_NAMES[parent.phase]}); it takes no new children")
        spec = pb.TaskSpec()
        spec.CopyFrom(req.task)
        spec.id.project, spec.id.domain = entry.run.project, entry.run.domain
        check_task_spec(spec)
        check_inputs_size(req.inputs)
        check_resources(spec, b.limits_for(entry.run.project, entry.run.domain))
        _check_executor(b, spec)
        await b.catalog.register(spec)
        existing = entry.actions.get(req.id.name)  # a concurrent call may have added it meanwhile
        if existing is not None:
            return queue_pb.EnqueueActionResponse(action=existing.to_pb(), existed=True)
        run = entry.run
        inputs_uri = _write_inputs(b, run.project, run.domain, run.name, req.id.name, req.inputs, req.inputs_uri)
        rec = ActionRecord(run.project, run.domain, run.name, req.id.name, req.parent, spec.id.name,
                           spec.id.version, task_type=spec.type or "python", group=req.group,
                           max_attempts=spec.retries.count + 1, inputs_uri=inputs_uri, inputs_hash=req.inputs_hash,
                           overwrite_cache=req.overwrite_cache or run.overwrite_cache)
        pending.append(b.executor.admit(entry, rec, spec))
        return queue_pb.EnqueueActionResponse(action=rec.to_pb(), existed=False)

    @_guard
    async def EnqueueAction(self, request: queue_pb.EnqueueActionRequest, context: Any) -> queue_pb.EnqueueActionResponse:
        pending: list = []
        resp = await self._enqueue(request, pending)
        await asyncio.gather(*pending)
        return resp

    @_guard
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

    @_guard
    async def AbortQueuedAction(self, request: queue_pb.AbortQueuedActionRequest, context: Any) -> queue_pb.AbortQueuedActionResponse:
        entry = await _entry(self.backend, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise _Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        await self.backend.executor.abort_actions(entry, [rec, *entry.descendants(rec.name)], request.reason or "aborted")
        return queue_pb.AbortQueuedActionResponse()


# -- state service ---------------------------------------------------------------------------------

_WATCH_CHUNK = 2000


class StateService(state_grpc.StateServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @_guard
    async def Watch(self, request: state_pb.WatchRequest, context: Any) -> Any:
        hub = self.backend.hub
        entry = await _entry(self.backend, request.run)
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

    @_guard
    async def GetAction(self, request: state_pb.GetActionRequest, context: Any) -> state_pb.GetActionResponse:
        entry = await _entry(self.backend, request.id)
        msg = entry.published.get(request.id.name)
        rec = entry.actions.get(request.id.name)
        if msg is None or rec is None:
            raise _Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
        spec = await self.backend.catalog.get(rec.task_key)
        resp = state_pb.GetActionResponse(action=msg)
        if spec is not None:
            resp.task.CopyFrom(spec)
        return resp

    @_guard
    async def TailLogs(self, request: state_pb.TailLogsRequest, context: Any) -> Any:
        b = self.backend
        entry = await _entry(b, request.id)
        rec = entry.actions.get(request.id.name)
        if rec is None:
            raise _Refuse(grpc.StatusCode.NOT_FOUND, f"action {request.id.name!r} does not exist in run {entry.run.name}")
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


# -- admin service ---------------------------------------------------------------------------------


class AdminService(admin_grpc.AdminServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @_guard
    async def ListCache(self, request: admin_pb.ListCacheRequest, context: Any) -> admin_pb.ListCacheResponse:
        entries = sorted(self.backend.cache.entries.values(), key=lambda e: -e.created_at)
        if request.task_name:
            entries = [e for e in entries if e.task_name == request.task_name]
        if request.limit:
            entries = entries[: request.limit]
        return admin_pb.ListCacheResponse(entries=[
            admin_pb.CacheEntry(project=e.project, domain=e.domain, task_name=e.task_name,
                                cache_version=e.cache_version, inputs_hash=e.inputs_hash,
                                outputs_uri=e.outputs_uri, created_at=e.created_at,
                                source=pb.ActionIdentifier(project=e.project, domain=e.domain, run=e.source_run,
                                                           name=e.source_action))
            for e in entries
        ])

    @_guard
    async def ClearCache(self, request: admin_pb.ClearCacheRequest, context: Any) -> admin_pb.ClearCacheResponse:
        return admin_pb.ClearCacheResponse(removed=await self.backend.cache.clear(request.task_name or None))

    @_guard
    async def SetLimits(self, request: admin_pb.SetLimitsRequest, context: Any) -> admin_pb.SetLimitsResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        limits = normalize_limits({k: getattr(request.limits, k) for k in ("cpu", "memory", "gpu", "disk")})
        await b.store.put_limits(project, domain, limits)
        b.limits[(project, domain)] = limits
        return admin_pb.SetLimitsResponse(limits=pb.Resources(**b.limits_for(project, domain)))

    @_guard
    async def GetLimits(self, request: admin_pb.GetLimitsRequest, context: Any) -> admin_pb.GetLimitsResponse:
        b = self.backend
        limits = b.limits_for(request.project or b.config.project, request.domain or b.config.domain)
        return admin_pb.GetLimitsResponse(limits=pb.Resources(**limits))

    @_guard
    async def Status(self, request: admin_pb.BackendStatusRequest, context: Any) -> admin_pb.BackendStatusResponse:
        b = self.backend
        return admin_pb.BackendStatusResponse(
            version=b.version, executor=b.config.executor, max_parallelism=b.executor.max_parallelism,
            running=b.executor.running, queued=b.executor.queued, data_dir=str(b.config.data_dir),
            storage_root=b.config.storage_root, pid=os.getpid(),
        )


def add_services(server: grpc.aio.Server, backend: Backend) -> None:
    run_grpc.add_RunServiceServicer_to_server(RunService(backend), server)
    queue_grpc.add_QueueServiceServicer_to_server(QueueService(backend), server)
    state_grpc.add_StateServiceServicer_to_server(StateService(backend), server)
    admin_grpc.add_AdminServiceServicer_to_server(AdminService(backend), server)


__all__ = ["Backend", "add_services", "TERMINAL"]
