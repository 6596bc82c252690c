"""The gRPC services of the backend, one module each (run, queue, state, admin, tasks, secrets, triggers), over one shared
`Backend` object (`context`); `auth`'s interceptor checks every call's token (the admin token, or
an action's run credential) before its message is parsed."""

from __future__ import annotations

import grpc.aio

from flyte_jupyter._internal.wire.proto import admin_service_pb2_grpc as admin_grpc
from flyte_jupyter._internal.wire.proto import queue_service_pb2_grpc as queue_grpc
from flyte_jupyter._internal.wire.proto import run_service_pb2_grpc as run_grpc
from flyte_jupyter._internal.wire.proto import secret_service_pb2_grpc as secret_grpc
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter._internal.wire.proto import task_service_pb2_grpc as task_grpc
from flyte_jupyter._internal.wire.proto import trigger_service_pb2_grpc as trigger_grpc
from flyte_jupyter.backend.services.admin import AdminService
from flyte_jupyter.backend.services.children import ChildGateway
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.queue import QueueService
from flyte_jupyter.backend.services.run import RunService
from flyte_jupyter.backend.services.secrets import SecretService
from flyte_jupyter.backend.services.state import StateService
from flyte_jupyter.backend.services.tasks import TaskService
from flyte_jupyter.backend.services.triggers import TriggerService


def add_services(server: grpc.aio.Server, backend: Backend) -> None:
    run_grpc.add_RunServiceServicer_to_server(RunService(backend), server)
    queue_grpc.add_QueueServiceServicer_to_server(QueueService(backend), server)
    state_grpc.add_StateServiceServicer_to_server(StateService(backend), server)
    admin_grpc.add_AdminServiceServicer_to_server(AdminService(backend), server)
    task_grpc.add_TaskServiceServicer_to_server(TaskService(backend), server)
    if backend.vault is not None:
        secret_grpc.add_SecretServiceServicer_to_server(SecretService(backend, backend.vault), server)
    trigger_grpc.add_TriggerServiceServicer_to_server(TriggerService(backend), server)


__all__ = ["Backend", "ChildGateway", "add_services"]
