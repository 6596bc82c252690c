"""SecretService: create, describe, list and delete secrets; `ResolveSecrets` for local mode.

Every method takes the admin token only: a run credential is refused by the interceptor (its
method list has none of these), so task code cannot list or read secrets; an action gets exactly
the secrets its task declares, from the executor, at launch. Values are sealed by the vault before
they reach the store, and no response but `ResolveSecrets` (what `flyte.run` in local mode asks,
holding the admin token) carries one. Names are checked before anything is written.
"""

from __future__ import annotations

from typing import Any

import grpc

from flyte_jupyter._internal.runtime.secret_names import MAX_VALUE, check_secret_name
from flyte_jupyter._internal.wire.proto import secret_service_pb2 as sec_pb
from flyte_jupyter._internal.wire.proto import secret_service_pb2_grpc as sec_grpc
from flyte_jupyter.backend.services.auth import Refuse, guard
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.validation import Invalid, check_project_domain
from flyte_jupyter.backend.store.records import SecretRecord
from flyte_jupyter.backend.vault import SecretVault

MAX_LIST = 10000
MAX_RESOLVE = 256


def _info(record: SecretRecord) -> sec_pb.SecretInfo:
    return sec_pb.SecretInfo(id=sec_pb.SecretId(project=record.project, domain=record.domain, name=record.name),
                             created_at=record.created_at, updated_at=record.updated_at)


def _name(name: str) -> str:
    try:
        return check_secret_name(name)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


class SecretService(sec_grpc.SecretServiceServicer):
    def __init__(self, backend: Backend, vault: SecretVault) -> None:
        self.backend = backend
        self.vault = vault

    def _place(self, project: str, domain: str) -> tuple[str, str]:
        project = project or self.backend.config.project
        domain = domain or self.backend.config.domain
        check_project_domain(project, domain)
        return project, domain

    @guard
    async def CreateSecret(self, request: sec_pb.CreateSecretRequest, context: Any) -> sec_pb.CreateSecretResponse:
        project, domain = self._place(request.id.project, request.id.domain)
        name = _name(request.id.name)
        if not request.value:
            raise Invalid(f"secret {name!r} has an empty value; give it a value")
        if len(request.value) > MAX_VALUE:
            raise Invalid(f"the value of secret {name!r} is {len(request.value)} bytes, more than {MAX_VALUE}")
        record = await self.vault.put(project, domain, name, request.value, request.overwrite)
        if record is None:
            raise Refuse(grpc.StatusCode.ALREADY_EXISTS,
                         f"secret {name!r} exists in {project}/{domain}; delete it first or pass --overwrite")
        return sec_pb.CreateSecretResponse(secret=_info(record))

    @guard
    async def GetSecret(self, request: sec_pb.GetSecretRequest, context: Any) -> sec_pb.GetSecretResponse:
        project, domain = self._place(request.id.project, request.id.domain)
        name = _name(request.id.name)
        record = await self.backend.store.get_secret(project, domain, name)
        if record is None:
            raise Refuse(grpc.StatusCode.NOT_FOUND, not_found(name, project, domain))
        return sec_pb.GetSecretResponse(secret=_info(record))

    @guard
    async def ListSecrets(self, request: sec_pb.ListSecretsRequest, context: Any) -> sec_pb.ListSecretsResponse:
        project, domain = self._place(request.project, request.domain)
        limit = min(request.limit, MAX_LIST) if request.limit > 0 else 1000
        records = await self.backend.store.list_secrets(project, domain, limit)
        return sec_pb.ListSecretsResponse(secrets=[_info(r) for r in records])

    @guard
    async def DeleteSecret(self, request: sec_pb.DeleteSecretRequest, context: Any) -> sec_pb.DeleteSecretResponse:
        project, domain = self._place(request.id.project, request.id.domain)
        name = _name(request.id.name)
        if not await self.backend.store.delete_secret(project, domain, name):
            raise Refuse(grpc.StatusCode.NOT_FOUND, not_found(name, project, domain))
        return sec_pb.DeleteSecretResponse()

    @guard
    async def ResolveSecrets(self, request: sec_pb.ResolveSecretsRequest, context: Any) -> sec_pb.ResolveSecretsResponse:
        project, domain = self._place(request.project, request.domain)
        if len(request.names) > MAX_RESOLVE:
            raise Invalid(f"the request names {len(request.names)} secrets, more than {MAX_RESOLVE}")
        names = [_name(n) for n in request.names]
        return sec_pb.ResolveSecretsResponse(values=await self.vault.resolve(project, domain, names))


def not_found(name: str, project: str, domain: str) -> str:
    return (f"secret {name!r} does not exist in {project}/{domain}; `flyte-jupyter secrets list --project {project} "
            f"--domain {domain}` shows the names there are")


