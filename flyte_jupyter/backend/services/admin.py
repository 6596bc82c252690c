"""AdminService: platform limits and task-resource attributes per project and domain, the cache,
and the backend's status.

Task-resource attributes are Flyte's matchable TASK_RESOURCE attributes of a project and domain:
`defaults`, filled into a task spec that leaves a resource unset, and `limits`, no request may
exceed. Their limits are the project-domain's platform limits (`SetLimits` sets the same ones); an
update replaces both whole, a delete returns the project-domain to the backend's own limits. Every
value is checked before anything is stored (quantities, a default over its limit), and a change
applies to the next registration, run or child action: the services read them from memory, kept
equal to the store by these calls."""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter._internal.wire.proto import admin_service_pb2 as admin_pb
from flyte_jupyter._internal.wire.proto import admin_service_pb2_grpc as admin_grpc
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.services.auth import guard
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.validation import (
    check_defaults_within,
    check_project_domain,
    normalize_limits,
)

_KINDS = ("cpu", "memory", "gpu", "disk")


def _mapping(resources: pb.Resources) -> dict[str, str]:
    return {k: getattr(resources, k) for k in _KINDS}


class AdminService(admin_grpc.AdminServiceServicer):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @guard
    async def ListCache(self, request: admin_pb.ListCacheRequest, context: Any) -> admin_pb.ListCacheResponse:
        entries = sorted(self.backend.cache.entries.values(), key=lambda e: -e.created_at)
        if request.task_name:
            entries = [e for e in entries if e.task_name == request.task_name]
        if request.limit > 0:
            entries = entries[: request.limit]
        return admin_pb.ListCacheResponse(entries=[
            admin_pb.CacheEntry(project=e.project, domain=e.domain, task_name=e.task_name,
                                cache_version=e.cache_version, inputs_hash=e.inputs_hash,
                                outputs_uri=e.outputs_uri, created_at=e.created_at,
                                source=pb.ActionIdentifier(project=e.project, domain=e.domain, run=e.source_run,
                                                           name=e.source_action))
            for e in entries
        ])

    @guard
    async def ClearCache(self, request: admin_pb.ClearCacheRequest, context: Any) -> admin_pb.ClearCacheResponse:
        return admin_pb.ClearCacheResponse(removed=await self.backend.cache.clear(request.task_name or None))

    @guard
    async def SetLimits(self, request: admin_pb.SetLimitsRequest, context: Any) -> admin_pb.SetLimitsResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        limits = normalize_limits(_mapping(request.limits))
        check_defaults_within(b.defaults_for(project, domain), {**b.config.limits, **limits})
        await b.store.put_limits(project, domain, limits)
        b.limits[(project, domain)] = limits
        return admin_pb.SetLimitsResponse(limits=pb.Resources(**b.limits_for(project, domain)))

    @guard
    async def GetLimits(self, request: admin_pb.GetLimitsRequest, context: Any) -> admin_pb.GetLimitsResponse:
        b = self.backend
        limits = b.limits_for(request.project or b.config.project, request.domain or b.config.domain)
        return admin_pb.GetLimitsResponse(limits=pb.Resources(**limits))

    @guard
    async def Status(self, request: admin_pb.BackendStatusRequest, context: Any) -> admin_pb.BackendStatusResponse:
        b = self.backend
        return admin_pb.BackendStatusResponse(
            version=b.version, executor=b.config.executor, max_parallelism=b.executor.max_parallelism,
            running=round(b.executor.busy), queued=b.executor.queued,
            waiting_parents=max(0, b.executor.running - round(b.executor.busy)), data_dir=str(b.config.data_dir),
            storage_root=b.config.storage_root, pid=os.getpid(), task_types=b.registry.task_types(),
        )

    # -- task-resource attributes (issue 13) ------------------------------------------------------

    def _attributes(self, project: str, domain: str) -> admin_pb.ResourceAttributesResponse:
        b = self.backend
        return admin_pb.ResourceAttributesResponse(
            project=project, domain=domain,
            attributes=admin_pb.ResourceAttributes(defaults=pb.Resources(**b.defaults_for(project, domain)),
                                                   limits=pb.Resources(**b.limits.get((project, domain), {}))),
            limits_in_effect=pb.Resources(**b.limits_for(project, domain)))

    @guard
    async def UpdateResourceAttributes(self, request: admin_pb.UpdateResourceAttributesRequest,
                                       context: Any) -> admin_pb.ResourceAttributesResponse:
        b = self.backend
        check_project_domain(request.project, request.domain)  # named: an update changes one place only
        project, domain = request.project, request.domain
        defaults = normalize_limits(_mapping(request.attributes.defaults), "defaults")
        limits = normalize_limits(_mapping(request.attributes.limits), "limits")
        check_defaults_within(defaults, {**b.config.limits, **limits})
        await b.store.put_resource_attributes(project, domain, defaults, limits)
        b.resource_defaults[(project, domain)] = defaults
        b.limits[(project, domain)] = limits
        return self._attributes(project, domain)

    @guard
    async def GetResourceAttributes(self, request: admin_pb.GetResourceAttributesRequest,
                                    context: Any) -> admin_pb.ResourceAttributesResponse:
        b = self.backend
        project = request.project or b.config.project
        domain = request.domain or b.config.domain
        check_project_domain(project, domain)
        return self._attributes(project, domain)

    @guard
    async def DeleteResourceAttributes(self, request: admin_pb.DeleteResourceAttributesRequest,
                                       context: Any) -> admin_pb.DeleteResourceAttributesResponse:
        b = self.backend
        check_project_domain(request.project, request.domain)
        existed = await b.store.delete_resource_attributes(request.project, request.domain)
        b.resource_defaults.pop((request.project, request.domain), None)
        b.limits.pop((request.project, request.domain), None)
        return admin_pb.DeleteResourceAttributesResponse(existed=existed)
