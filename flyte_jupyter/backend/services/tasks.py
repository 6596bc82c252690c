"""TaskService: tasks registered ahead of a run (Flyte's register / deploy), by version.

`RegisterTasks` checks the whole request before anything is stored: project and domain, every spec
(names, versions, sizes, the executor that would run it), the platform limits of the project and
domain (Flyte's words when over), that each spec's code bundle is one of this backend's
content-addressed bundles and holds what its name says, and that no version exists with another
spec. A task that requests no cpu, memory, gpu or disk gets the project-domain's default for it
(task-resource attributes), recorded in the registered spec and checked against the limits. Then the catalog stores every spec and registration in one transaction. With
`validate_only` it checks all of that but the bundles' presence and stores nothing: a client asks
so before it uploads a bundle, so a refused registration leaves nothing behind in storage either. `GetTask` finds a
version ("" or "latest": the newest), `ListTasks` lists them by name, newest first.

"By whom" is what the client says (`registered_by`, its user name): every caller here holds the
same admin token, so the backend has no other identity to record.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

import grpc

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter._internal.wire.proto import task_service_pb2_grpc as task_grpc
from flyte_jupyter.backend.catalog import LATEST, Registered
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import Backend, check_executor, effective_spec
from flyte_jupyter.backend.services.triggers import check_triggers, deploy_triggers
from flyte_jupyter.backend.services.validation import (
    Invalid,
    check_project_domain,
    check_resources,
    check_task_spec,
)

MAX_TASKS = 1000  # tasks in one registration request
MAX_DOCS = 64 * 1024
MAX_TYPE = 4096
MAX_DEFAULT = 1024 * 1024
MAX_WHO = 256
MAX_LIST = 10000
_BUNDLE_NAME = re.compile(r"([0-9a-f]{64})\.(?:tar\.gz|pkl\.gz)")
_BUNDLE_FLAGS = ("--tgz", "--pkl")


def bundle_uris(spec: pb.TaskSpec) -> list[str]:
    """The code bundles a spec's entrypoint arguments name (`--tgz URI` or `--pkl URI`)."""
    args = list(spec.args)
    return [args[i + 1] for i in range(len(args) - 1) if args[i] in _BUNDLE_FLAGS]


def check_bundle(uri: str, storage_root: str, present: bool = True) -> None:
    """A registered spec's bundle is one of this backend's: under STORAGE/bundles/, named by the
    sha256 of its bytes, and (`present`) there, holding what its name says (read once, here)."""
    prefix = _storage.join(storage_root, "bundles") + "/"
    match = _BUNDLE_NAME.fullmatch(uri[len(prefix):]) if uri.startswith(prefix) else None
    if match is None:
        raise Invalid(f"the code bundle {uri[:200]!r} is not a bundle of this backend's storage "
                      f"({prefix}<sha256>.tar.gz or .pkl.gz); upload it with the flyte_jupyter SDK "
                      "(flyte-jupyter deploy or register do)")
    if not present:
        return
    if not _storage.exists(uri):
        raise Invalid(f"the code bundle {uri} is not in storage; upload it before registering the tasks "
                      "that run it")
    digest = hashlib.sha256()
    with _storage.open_file(uri, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != match.group(1):
        raise Invalid(f"the code bundle {uri} does not hold what its name says (its sha256 is "
                      f"{digest.hexdigest()[:12]}); upload it again with the flyte_jupyter SDK")


def _check_text(what: str, value: str, cap: int) -> None:
    if len(value) > cap:
        raise Invalid(f"{what} is {len(value)} characters, more than {cap}")
    if "\0" in value:
        raise Invalid(f"{what} has a NUL character")


def _check_entry(entry: task_pb.TaskEntry, spec: pb.TaskSpec) -> None:
    name = spec.id.name
    declared = [v.name for v in spec.interface.inputs]
    given = [i.name for i in entry.inputs]
    if given and given != declared:
        raise Invalid(f"task {name}: the typed inputs {given} are not the inputs of its spec {declared}")
    for item in entry.inputs:
        _check_text(f"the type of input {item.name!r} of task {name}", item.type, MAX_TYPE)
        if len(item.default) > MAX_DEFAULT or len(item.default_json) > MAX_DEFAULT:
            raise Invalid(f"task {name}: the default of input {item.name!r} is over {MAX_DEFAULT} bytes; "
                          "keep large defaults out of the signature")
    _check_text(f"the output type of task {name}", entry.output_type, MAX_TYPE)
    _check_text(f"the docs of task {name}", entry.docs, MAX_DOCS)
    _check_text(f"the source file of task {name}", entry.source_file, MAX_TYPE)
    _check_text(f"the source digest of task {name}", entry.source_digest, 128)


def registered_msg(reg: Registered) -> task_pb.RegisteredTask:
    record = reg.record
    entry = task_pb.TaskEntry()
    if record.entry:
        entry.ParseFromString(record.entry)
    entry.spec.CopyFrom(reg.spec)
    return task_pb.RegisteredTask(
        id=pb.TaskIdentifier(project=record.project, domain=record.domain, name=record.name, version=record.version),
        digest=record.digest, created_at=record.created_at, created_by=record.created_by, entry=entry,
        created=reg.created)


class TaskService(task_grpc.TaskServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @guard
    async def RegisterTasks(self, request: task_pb.RegisterTasksRequest, context: Any) -> task_pb.RegisterTasksResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        if not request.tasks:
            raise Invalid("the request registers no task; send at least one")
        if len(request.tasks) > MAX_TASKS:
            raise Invalid(f"the request registers {len(request.tasks)} tasks, more than {MAX_TASKS}; split it")
        who = request.registered_by or "unknown"
        _check_text("registered_by", who, MAX_WHO)
        limits = b.limits_for(project, domain)
        specs: list[pb.TaskSpec] = []
        identities: list[str] = []
        entries: list[bytes] = []
        names: set[str] = set()
        bundles: set[str] = set()
        for item in request.tasks:
            spec = pb.TaskSpec()
            spec.CopyFrom(item.spec)
            spec.id.project, spec.id.domain = project, domain
            check_task_spec(spec)
            if spec.id.version == LATEST:
                raise Invalid(f"task {spec.id.name}: {LATEST!r} names the newest version and cannot be a version; "
                              "pick another")
            if spec.id.name in names:
                raise Invalid(f"task {spec.id.name} is in the request twice; register each task once")
            names.add(spec.id.name)
            spec, identity = await effective_spec(b, spec)  # the project-domain's defaults, recorded
            check_resources(spec, limits)
            check_executor(b, spec)
            _check_entry(item, spec)
            check_triggers(item, spec)
            bundles.update(bundle_uris(spec))
            meta = task_pb.TaskEntry()
            meta.CopyFrom(item)
            meta.ClearField("spec")
            specs.append(spec)
            identities.append(identity)
            entries.append(meta.SerializeToString(deterministic=True))
        for uri in sorted(bundles):
            await asyncio.to_thread(check_bundle, uri, b.config.storage_root, not request.validate_only)
        if request.validate_only:
            await b.catalog.check_tasks(specs, identities)
            return task_pb.RegisterTasksResponse()
        # Shielded: a caller that goes away mid-way leaves the request stored whole or not at all.
        registering = asyncio.ensure_future(b.catalog.register_tasks(specs, entries, who, time.time(), identities))
        registering.add_done_callback(lambda t: t.cancelled() or t.exception())
        registered = await asyncio.shield(registering)
        await deploy_triggers(b, [(spec, item) for spec, item in zip(specs, request.tasks)])
        return task_pb.RegisterTasksResponse(tasks=[registered_msg(r) for r in registered])

    @guard
    async def GetTask(self, request: task_pb.GetTaskRequest, context: Any) -> task_pb.GetTaskResponse:
        b = self.backend
        ident = request.id
        project = ident.project or b.config.project
        domain = ident.domain or b.config.domain
        check_project_domain(project, domain)
        if not ident.name:
            raise Invalid("name the task to get")
        reg = await b.catalog.registered(project, domain, ident.name, ident.version)
        if reg is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, not_found(ident.name, ident.version, project, domain))
        return task_pb.GetTaskResponse(task=registered_msg(reg))

    @guard
    async def ListTasks(self, request: task_pb.ListTasksRequest, context: Any) -> task_pb.ListTasksResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        limit = min(request.limit, MAX_LIST) if request.limit > 0 else 200
        found = await b.catalog.list_registered(project, domain, request.name or None, limit, request.latest_only)
        return task_pb.ListTasksResponse(tasks=[registered_msg(r) for r in found])


def not_found(name: str, version: str, project: str, domain: str) -> str:
    which = f"version {version!r}" if version and version != LATEST else "any registered version"
    return (f"task {name!r} has no {which} in {project}/{domain}; `flyte-jupyter tasks list --project {project} "
            f"--domain {domain}` shows what is registered there")
