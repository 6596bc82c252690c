"""The SDK's side of the secret and trigger services (what `flyte.remote.Secret`, `flyte.remote.Trigger`,
the CLI, the server extension and local mode call), over `BackendClient.call_service`."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.wire.proto import secret_service_pb2 as sec_pb
from flyte_jupyter._internal.wire.proto import secret_service_pb2_grpc as sec_grpc
from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as trig_pb
from flyte_jupyter._internal.wire.proto import trigger_service_pb2_grpc as trig_grpc


def _place(client: Any, project: str | None, domain: str | None) -> tuple[str, str]:
    return project or client.project, domain or client.domain


async def _secrets(client: Any, method: str, request: Any) -> Any:
    return await client.call_service("secrets", sec_grpc.SecretServiceStub, method, request)


async def _triggers(client: Any, method: str, request: Any) -> Any:
    return await client.call_service("triggers", trig_grpc.TriggerServiceStub, method, request)


async def create_secret(client: Any, name: str, value: bytes, *, project: str | None = None,
                        domain: str | None = None, overwrite: bool = False) -> sec_pb.SecretInfo:
    p, d = _place(client, project, domain)
    req = sec_pb.CreateSecretRequest(id=sec_pb.SecretId(project=p, domain=d, name=name), value=value,
                                     overwrite=overwrite)
    return (await _secrets(client, "CreateSecret", req)).secret


async def get_secret(client: Any, name: str, *, project: str | None = None, domain: str | None = None) -> sec_pb.SecretInfo:
    p, d = _place(client, project, domain)
    return (await _secrets(client, "GetSecret", sec_pb.GetSecretRequest(id=sec_pb.SecretId(project=p, domain=d,
                                                                                           name=name)))).secret


async def list_secrets(client: Any, *, project: str | None = None, domain: str | None = None,
                       limit: int = 0) -> list[sec_pb.SecretInfo]:
    p, d = _place(client, project, domain)
    return list((await _secrets(client, "ListSecrets", sec_pb.ListSecretsRequest(project=p, domain=d,
                                                                                 limit=limit))).secrets)


async def delete_secret(client: Any, name: str, *, project: str | None = None, domain: str | None = None) -> None:
    p, d = _place(client, project, domain)
    await _secrets(client, "DeleteSecret", sec_pb.DeleteSecretRequest(id=sec_pb.SecretId(project=p, domain=d, name=name)))


async def resolve_secrets(client: Any, names: list[str], *, project: str | None = None,
                          domain: str | None = None) -> dict[str, bytes]:
    p, d = _place(client, project, domain)
    resp = await _secrets(client, "ResolveSecrets", sec_pb.ResolveSecretsRequest(project=p, domain=d, names=names))
    return dict(resp.values)


async def list_triggers(client: Any, *, task_name: str = "", project: str | None = None,
                        domain: str | None = None) -> list[trig_pb.TriggerInfo]:
    p, d = _place(client, project, domain)
    req = trig_pb.ListTriggersRequest(project=p, domain=d, task_name=task_name)
    return list((await _triggers(client, "ListTriggers", req)).triggers)


async def set_trigger_active(client: Any, name: str, active: bool, *, task_name: str = "",
                             project: str | None = None, domain: str | None = None) -> trig_pb.TriggerInfo:
    p, d = _place(client, project, domain)
    req = trig_pb.UpdateTriggerRequest(ref=trig_pb.TriggerRef(project=p, domain=d, task_name=task_name, name=name),
                                       active=active)
    return (await _triggers(client, "UpdateTrigger", req)).trigger


async def delete_trigger(client: Any, name: str, *, task_name: str = "", project: str | None = None,
                         domain: str | None = None) -> None:
    p, d = _place(client, project, domain)
    await _triggers(client, "DeleteTrigger", trig_pb.DeleteTriggerRequest(
        ref=trig_pb.TriggerRef(project=p, domain=d, task_name=task_name, name=name)))
