"""RunService: create, get, list, abort and watch runs.

A run names its task either by spec (`task`, what a client built from its code) or by reference
(`task_ref`, a version registered with the TaskService): then the run runs the registered spec,
code bundle and image, whatever the client has; the platform limits are checked again, as at
every run."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime.naming import ROOT_ACTION, new_run_name
from flyte_jupyter._internal.wire.models import DEPLOYED_LABEL
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import run_service_pb2_grpc as run_grpc
from flyte_jupyter.backend.executor.executor import cache_key
from flyte_jupyter.backend.recovery import RecoverySource, mark_recovered
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import (
    PHASE_NAMES,
    Backend,
    check_executor,
    check_inputs_of,
    discard_inputs,
    effective_spec,
    entry_of,
    run_msg,
    write_inputs,
)
from flyte_jupyter.backend.services.deletion import delete_run_data, run_folders
from flyte_jupyter.backend.services.foreign_runs import POLL, ForeignRuns
from flyte_jupyter.backend.services.rerun import plan_rerun
from flyte_jupyter.backend.services.tasks import not_found
from flyte_jupyter.backend.services.validation import (
    Invalid,
    check_project_domain,
    check_request_strings,
    check_resources,
    check_run_name,
    check_task_spec,
)
from flyte_jupyter.backend.state import RunExists
from flyte_jupyter.backend.store.records import ActionRecord, RunRecord, TickRecord

if TYPE_CHECKING:
    from flyte_jupyter.backend.state import RunEntry


class RunService(run_grpc.RunServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @guard
    async def CreateRun(self, request: run_pb.CreateRunRequest, context: Any) -> run_pb.CreateRunResponse:
        entry = await create_run(self.backend, request)
        return run_pb.CreateRunResponse(run=run_msg(entry))

    @guard
    async def GetRun(self, request: run_pb.GetRunRequest, context: Any) -> run_pb.GetRunResponse:
        entry = await entry_of(self.backend, request.id)
        actions = sorted(entry.published.values(), key=lambda a: (a.queued_at, a.seq))
        return run_pb.GetRunResponse(run=run_msg(entry), actions=actions)

    @guard
    async def ListRuns(self, request: run_pb.ListRunsRequest, context: Any) -> run_pb.ListRunsResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        out = []
        limit = min(request.limit, 10000) if request.limit > 0 else 50
        for run, root, count in await b.store.run_roots(project, domain, limit):
            entry = b.hub.runs.get(run.key)
            if entry is not None:
                msg = run_msg(entry)
            else:  # not in memory: what the store holds is what watchers were told
                msg = pb.Run(id=pb.ActionIdentifier(project=run.project, domain=run.domain, run=run.name,
                                                    name=ROOT_ACTION),
                             created_at=run.created_at, labels=run.labels, task_name=run.task_name,
                             action_count=count)
                if root is not None:
                    msg.root.CopyFrom(root.to_pb())
            if request.phase and PHASE_NAMES.get(msg.root.phase) != request.phase.upper():
                continue
            out.append(msg)
        return run_pb.ListRunsResponse(runs=out)

    @guard
    async def AbortRun(self, request: run_pb.AbortRunRequest, context: Any) -> run_pb.AbortRunResponse:
        entry = await entry_of(self.backend, request.id)
        await self.backend.executor.abort_run(entry, request.reason or "aborted by user")
        return run_pb.AbortRunResponse()

    @guard
    async def DeleteRun(self, request: run_pb.DeleteRunRequest, context: Any) -> run_pb.DeleteRunResponse:
        """A finished run's records and data (see `deletion`); a live run is refused: abort it first."""
        b = self.backend
        entry = await entry_of(b, request.id)
        run = entry.run
        live = [a.name for a in entry.actions.values() if not a.terminal]
        if live:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                         f"run {run.name!r} is still running ({len(live)} action(s) not finished, {live[0]} among "
                         f"them); abort it first (`flyte-jupyter runs abort {run.name}`), then delete it")
        if not b.hub.detach(run.key):
            raise Refuse(grpc.StatusCode.ABORTED, f"run {run.name!r} is being created or deleted; try again")
        try:
            folder, others, local = run_folders(b.config.storage_root, str(b.config.data_dir), *run.key)
            cached = {c.outputs_uri for c in b.cache.entries.values()
                      if c.source_run == run.name and (c.project, c.domain) == (run.project, run.domain)}
            count = await b.store.delete_run(*run.key)
            kept = await asyncio.to_thread(delete_run_data, folder, others, local, cached)
        finally:
            b.hub.release(run.key)
        return run_pb.DeleteRunResponse(actions=count, kept=kept)

    @guard
    async def WatchRuns(self, request: run_pb.WatchRunsRequest, context: Any) -> Any:
        """Root changes of the runs this backend drives as they are published; with replicas also
        those of the runs the others drive, polled from the database (`foreign_runs`)."""
        hub = self.backend.hub
        foreign = ForeignRuns(hub) if hub.replica is not None else None
        loop = asyncio.get_running_loop()
        inbox = hub.watch_runs()

        def wanted(run: pb.Run) -> bool:
            return ((not request.project or run.id.project == request.project)
                    and (not request.domain or run.id.domain == request.domain))

        try:
            if foreign is not None:
                await foreign.changes()  # the first look: what is there now is not a change
            next_look = loop.time() + POLL
            while True:
                if foreign is not None and loop.time() >= next_look:
                    for msg in await foreign.changes():
                        if wanted(msg):
                            yield run_pb.WatchRunsResponse(run=msg)
                    next_look = loop.time() + POLL
                try:
                    wait = max(0.0, next_look - loop.time()) if foreign is not None else None
                    entry = await asyncio.wait_for(inbox.get(), wait)
                except asyncio.TimeoutError:
                    continue
                msg = run_msg(entry)
                if wanted(msg):
                    yield run_pb.WatchRunsResponse(run=msg)
        finally:
            hub.unwatch_runs(inbox)


async def create_run(b: Backend, request: run_pb.CreateRunRequest, tick: TickRecord | None = None) -> RunEntry:
    """Every check first, then the name is reserved, then the parts are stored; the run is created
    whole or not at all (inputs written for a refused run are removed again). A trigger's run comes
    with its `tick`, stored in the same transaction (`StateHub.create_run`)."""
    project = request.project or b.config.project
    domain = request.domain or b.config.domain
    check_project_domain(project, domain)
    source = None
    if request.HasField("rerun"):
        plan = await plan_rerun(b, request, project, domain)
        request, source = plan.request, plan.source
    if request.HasField("task_ref"):
        project, domain = _ref_place(request, project, domain)
    name = request.run_name or new_run_name()
    check_run_name(name)
    spec = pb.TaskSpec()
    if request.HasField("task_ref"):
        registered, identity = await _registered_spec(b, request, project, domain)
        spec.CopyFrom(registered)
        spec.id.project, spec.id.domain = project, domain
        check_task_spec(spec)
    else:
        spec.CopyFrom(request.task)
        spec.id.project, spec.id.domain = project, domain
        check_task_spec(spec)
        spec, identity = await effective_spec(b, spec)
    check_inputs_of(b, project, domain, name, request.inputs, request.inputs_uri)
    check_request_strings(f"run {name}", request.env_vars, request.raw_data_path)
    check_resources(spec, b.limits_for(project, domain))
    check_executor(b, spec)
    key = (project, domain, name)
    exists = Refuse(grpc.StatusCode.ALREADY_EXISTS,
                    f"run {name!r} already exists in {project}/{domain}; pick another run name")
    if not b.hub.reserve(key):
        raise exists
    # Shielded: a caller that goes away mid-way leaves a run created whole (and queued) or not at all.
    creation = asyncio.ensure_future(_create(b, request, spec, identity, key, exists, tick, source))
    creation.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved even if we left
    return await asyncio.shield(creation)


async def _create(b: Backend, request: run_pb.CreateRunRequest, spec: pb.TaskSpec, identity: str,
                  key: tuple[str, str, str], exists: Refuse, tick: TickRecord | None,
                  source: RecoverySource | None = None) -> RunEntry:
    """Store a checked run whose name `key` this call has reserved, and queue it."""
    project, domain, name = key
    written = ""
    try:
        if await b.store.get_run(*key) is not None:
            raise exists
        await b.catalog.register(spec, identity)
        inputs_uri, wrote = write_inputs(b, project, domain, name, ROOT_ACTION, request.inputs,
                                         request.inputs_uri)
        written = inputs_uri if wrote else ""
        now = time.time()
        labels = {k: v for k, v in request.labels.items() if k != DEPLOYED_LABEL}
        if request.HasField("task_ref"):  # shown by the CLI, widget and panel; never the client's word
            labels[DEPLOYED_LABEL] = f"{spec.id.name}@{spec.id.version}"
        run = RunRecord(project, domain, name, now, spec.id.name, labels,
                        dict(request.env_vars), request.raw_data_path, request.overwrite_cache)
        rec = ActionRecord(project, domain, name, ROOT_ACTION, "", spec.id.name, spec.id.version,
                           task_type=spec.type or "python", max_attempts=spec.retries.count + 1,
                           inputs_uri=inputs_uri, inputs_hash=request.inputs_hash,
                           overwrite_cache=request.overwrite_cache, queued_at=now)
        recovered = source.match(rec, spec) if source is not None else None
        if recovered is not None:
            mark_recovered(rec, recovered)
        hit = recovered is not None or _cache_hit(b, rec, spec)
        try:
            entry = await b.hub.create_run(run, rec, tick)
        except RunExists as taken:
            raise Refuse(grpc.StatusCode.ALREADY_EXISTS, str(taken)) from None
        if source is not None:  # before a0 runs: its children are recovered from `source`
            await b.recoveries.keep(key, request.rerun, source)
    except BaseException:
        if written:
            discard_inputs(written)
        raise
    finally:
        b.hub.release(key)
    if not hit:
        b.executor.queue_new(entry, rec, spec)
    return entry


def _ref_place(request: run_pb.CreateRunRequest, project: str, domain: str) -> tuple[str, str]:
    """A run by reference runs in its task's project and domain (the request's, when the reference
    names none)."""
    ref = request.task_ref
    for what, asked, named in (("project", request.project, ref.project), ("domain", request.domain, ref.domain)):
        if asked and named and asked != named:
            raise Invalid(f"the run asks for {what} {asked!r} but its task is registered in {what} {named!r}; "
                          "a registered task runs in its own project and domain")
    return ref.project or project, ref.domain or domain


async def _registered_spec(b: Backend, request: run_pb.CreateRunRequest, project: str,
                           domain: str) -> tuple[pb.TaskSpec, str]:
    """(the registered spec, as stored with its defaults, and its identity digest)."""
    if request.HasField("task") and request.task.ByteSize():
        raise Invalid("send the task's spec or a reference to a registered task (task_ref), not both")
    ref = request.task_ref
    check_project_domain(project, domain)
    if not ref.name:
        raise Invalid("task_ref names no task")
    reg = await b.catalog.registered(project, domain, ref.name, ref.version)
    if reg is None:
        raise Refuse(grpc.StatusCode.NOT_FOUND, not_found(ref.name, ref.version, project, domain))
    return reg.spec, reg.record.digest


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
