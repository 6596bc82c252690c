"""Authentication comes before parsing: bytes without a token are UNAUTHENTICATED (never parsed),
a malformed message with the token is INVALID_ARGUMENT, and neither costs the backend log a
traceback, nor a line per request."""

from __future__ import annotations

import os
from typing import Any

import grpc
import pytest

_UNARY = ["/flyte_jupyter.v1.RunService/CreateRun", "/flyte_jupyter.v1.RunService/GetRun",
          "/flyte_jupyter.v1.QueueService/EnqueueActions", "/flyte_jupyter.v1.AdminService/SetLimits"]
_STREAM = ["/flyte_jupyter.v1.StateService/Watch", "/flyte_jupyter.v1.RunService/WatchRuns",
           "/flyte_jupyter.v1.StateService/TailLogs", "/flyte_jupyter.v1.StateService/TailRunLogs"]
# Not a valid message of any of these types: field 1 as a varint, then a truncated length prefix.
_MALFORMED = b"\x08\x96\x01\x12\xff\xff\xff\xff\x0f"


def _call(endpoint: str, method: str, data: bytes, token: str | None, stream: bool = False) -> grpc.StatusCode:
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(endpoint) as channel:
        try:
            if stream:
                for _ in channel.unary_stream(method)(data, metadata=metadata, timeout=10):
                    pass
            else:
                channel.unary_unary(method)(data, metadata=metadata, timeout=10)
        except grpc.RpcError as err:
            return err.code()  # type: ignore[attr-defined]
    return grpc.StatusCode.OK


def _log_since(backend: Any, offset: int) -> str:
    return backend.log_text()[offset:]


@pytest.mark.parametrize("method", _UNARY + _STREAM)
def test_random_bytes_without_a_token_are_unauthenticated(flyte_backend_process, method) -> None:  # type: ignore[no-untyped-def]
    backend = flyte_backend_process
    start = len(backend.log_text())
    for data in (os.urandom(64), _MALFORMED, b""):
        assert _call(backend.endpoint, method, data, None, method in _STREAM) == grpc.StatusCode.UNAUTHENTICATED
        assert _call(backend.endpoint, method, data, "not-the-token", method in _STREAM) == \
            grpc.StatusCode.UNAUTHENTICATED
    assert "Traceback" not in _log_since(backend, start)


@pytest.mark.parametrize("method", _UNARY + _STREAM)
def test_a_malformed_message_with_the_token_is_invalid_argument(flyte_backend_process, method) -> None:  # type: ignore[no-untyped-def]
    backend = flyte_backend_process
    start = len(backend.log_text())
    code = _call(backend.endpoint, method, _MALFORMED, backend.token, method in _STREAM)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    log = _log_since(backend, start)
    assert "Traceback" not in log and "Exception deserializing" not in log


def test_a_flood_of_bad_requests_writes_a_few_log_lines(flyte_backend_process) -> None:  # type: ignore[no-untyped-def]
    backend = flyte_backend_process
    start = len(backend.log_text())
    with grpc.insecure_channel(backend.endpoint) as channel:
        call = channel.unary_unary("/flyte_jupyter.v1.RunService/CreateRun")
        codes = []
        for i in range(200):
            token = backend.token if i % 2 else None
            try:
                call(_MALFORMED + os.urandom(8), metadata=[("authorization", f"Bearer {token}")] if token else None,
                     timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())  # type: ignore[attr-defined]
    assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT}
    lines = [line for line in _log_since(backend, start).splitlines() if line.strip()]
    assert len(lines) <= 6, lines
    assert not any("Traceback" in line for line in lines)


def test_the_health_service_needs_no_token(flyte_backend_process) -> None:  # type: ignore[no-untyped-def]
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(flyte_backend_process.endpoint) as channel:
        resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_a_forged_run_credential_is_unauthenticated(flyte_backend_process) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
    from flyte_jupyter.backend.services.auth import RunCredentials
    from flyte_jupyter.backend.store.records import RunRecord

    backend = flyte_backend_process
    forged = RunCredentials("some-other-token").mint(RunRecord("default", "development", "r", 1.0, "t"))
    data = run_pb.GetRunRequest().SerializeToString()
    for token in (forged, forged[:-2] + "xx", "fjr1.", "fjr1." + "A" * 5000):
        assert _call(backend.endpoint, "/flyte_jupyter.v1.RunService/GetRun", data, token) == \
            grpc.StatusCode.UNAUTHENTICATED
