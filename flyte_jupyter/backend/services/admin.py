"""AdminService: platform limits per project and domain, the cache, and the backend's status."""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter._internal.wire.proto import admin_service_pb2 as admin_pb
from flyte_jupyter._internal.wire.proto import admin_service_pb2_grpc as admin_grpc
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.services.auth import guard
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.validation import (
    check_project_domain,
    normalize_limits,
)


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
        limits = normalize_limits({k: getattr(request.limits, k) for k in ("cpu", "memory", "gpu", "disk")})
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
            running=b.executor.running, queued=b.executor.queued, data_dir=str(b.config.data_dir),
            storage_root=b.config.storage_root, pid=os.getpid(), task_types=b.registry.task_types(),
        )
