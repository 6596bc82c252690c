"""What every gRPC service shares: the Backend object and the lookups and writes they all make."""

from __future__ import annotations

import dataclasses
import os
import secrets
from typing import TYPE_CHECKING

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.catalog import TaskCatalog, spec_digest
from flyte_jupyter.backend.config import BackendConfig
from flyte_jupyter.backend.executor.executor import CacheIndex, Executor
from flyte_jupyter.backend.executor.plugin import PluginRegistry
from flyte_jupyter.backend.recovery import Recoveries
from flyte_jupyter.backend.services.auth import Refuse
from flyte_jupyter.backend.services.validation import Invalid, check_inputs, check_inputs_uri
from flyte_jupyter.backend.state import RunEntry, StateHub
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.vault import SecretVault

if TYPE_CHECKING:
    from flyte_jupyter.backend.scheduler import Scheduler

PHASE_NAMES = {v: k[len("PHASE_"):] for k, v in pb.Phase.items()}


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
    #: task-resource attributes: resource defaults per (project, domain); their limits are `limits`
    resource_defaults: dict[tuple[str, str], dict[str, str]] = dataclasses.field(default_factory=dict)
    vault: SecretVault | None = None  # secrets at rest (services/secrets.py)
    scheduler: Scheduler | None = None  # triggers of deployed tasks (services/triggers.py)
    recoveries: Recoveries = dataclasses.field(init=False)  # what reruns recover from (issue 17)

    def __post_init__(self) -> None:
        self.recoveries = Recoveries(self.store, self.hub, self.catalog)

    def limits_for(self, project: str, domain: str) -> dict[str, str]:
        return {**self.config.limits, **self.limits.get((project, domain), {})}

    def defaults_for(self, project: str, domain: str) -> dict[str, str]:
        return self.resource_defaults.get((project, domain), {})


_KINDS = ("cpu", "memory", "gpu", "disk")


def with_defaults(spec: pb.TaskSpec, defaults: dict[str, str]) -> pb.TaskSpec:
    """`spec` with each resource it leaves unset taken from `defaults` (a copy when any is), as
    Flyte injects task-resource defaults into a task that omits a resource."""
    missing = [k for k in _KINDS if defaults.get(k) and not getattr(spec.resources, k)]
    if not missing:
        return spec
    out = pb.TaskSpec()
    out.CopyFrom(spec)
    for kind in missing:
        setattr(out.resources, kind, defaults[kind])
    return out


async def effective_spec(backend: Backend, spec: pb.TaskSpec) -> tuple[pb.TaskSpec, str]:
    """(the spec the actions of this version run with, the identity digest of `spec` as sent).

    A version already stored with this identity runs as stored (the defaults recorded when it was
    first stored: a version is immutable, its resources included); a new one gets the current
    defaults of its project and domain. A conflicting version comes back with the defaults applied
    and is refused by the catalog's check with both digests."""
    identity = spec_digest(spec)
    known = await backend.catalog.lookup(TaskCatalog.key(spec))
    if known is not None and known[0] == identity:
        return known[1], identity
    return with_defaults(spec, backend.defaults_for(spec.id.project, spec.id.domain)), identity


async def entry_of(backend: Backend, ident: pb.ActionIdentifier) -> RunEntry:
    project = ident.project or backend.config.project
    domain = ident.domain or backend.config.domain
    entry = await backend.hub.get((project, domain, ident.run))
    if entry is None:
        raise Refuse(grpc.StatusCode.NOT_FOUND, f"run {ident.run!r} does not exist in {project}/{domain}; "
                                                 "`flyte-jupyter runs list` shows the runs there are")
    return entry


def run_msg(entry: RunEntry) -> pb.Run:
    run = entry.run
    msg = pb.Run(id=pb.ActionIdentifier(project=run.project, domain=run.domain, run=run.name, name=ROOT_ACTION),
                 created_at=run.created_at, labels=run.labels, task_name=run.task_name,
                 action_count=len(entry.published))
    root = entry.published.get(ROOT_ACTION)
    if root is not None:
        msg.root.CopyFrom(root)
    return msg


def write_inputs(backend: Backend, project: str, domain: str, run: str, action: str,
                 inline: bytes, uri: str) -> tuple[str, bool]:
    """(where the action's inputs are, whether this call wrote them). Inline inputs go to a path
    unique to this request (runs/P/D/RUN/inputs/ACTION-TOKEN.pb), so a request that loses a race
    or fails afterwards never overwrites the inputs of the one that won; `discard_inputs` removes
    them again when the request is refused after all."""
    if uri:
        return uri, False
    target = backend.executor.inputs_uri(project, domain, run, f"{action}-{secrets.token_hex(8)}")
    _storage.put_bytes(target, inline)
    return target, True


def discard_inputs(uri: str) -> None:
    """Remove inputs `write_inputs` wrote for a request that was not stored after all."""
    try:
        if _storage.is_local(uri):
            os.unlink(_storage.local_path(uri))
        else:
            fs, path = _storage.filesystem(uri)
            fs.rm(path)
    except Exception:  # noqa: BLE001 - best effort: an orphan file is harmless, the request failed anyway
        pass


def check_inputs_of(backend: Backend, project: str, domain: str, run: str, inline: bytes, uri: str) -> None:
    """Inline inputs must be a LiteralMap; inputs in storage must be in the run's own folder."""
    if uri:
        if inline:
            raise Invalid("send the inputs inline or as inputs_uri, not both")
        check_inputs_uri(uri, backend.config.storage_root, project, domain, run)
    else:
        check_inputs(inline)


def check_executor(b: Backend, spec: pb.TaskSpec) -> None:
    """Let the plugin that will run the task refuse it now, not at launch (e.g. the Kubernetes
    executor and a local venv image): a plugin may define ``check_task(spec)`` raising ValueError.
    A request larger than the backend's whole capacity is refused here too: it would wait forever."""
    refusal = b.executor.refusal(spec)
    if refusal is not None:
        raise Invalid(refusal)
    try:
        plugin = b.registry.get(spec.type or "python")
    except LookupError as exc:
        raise Invalid(str(exc)) from None
    check = getattr(plugin, "check_task", None)
    if check is not None:
        try:
            check(spec)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
