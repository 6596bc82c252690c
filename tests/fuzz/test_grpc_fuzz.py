"""Fuzzing every gRPC method of the backend: random bytes, and valid messages with mutated fields.

Whatever arrives, the answer is a deliberate status, never INTERNAL or UNKNOWN; the backend log gets
no traceback (and only a few rate-limited lines however many requests are refused); a refused
CreateRun or EnqueueAction stores nothing (no run, no action, no inputs file). Bytes without the
token are always UNAUTHENTICATED.

The backend is a real process with an executor plugin that starts nothing (`_null_executor`), so
an accepted run costs records, not a process. Hypothesis runs derandomized with a bounded number
of examples: the whole module takes seconds.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flyte_jupyter as flyte
from flyte_jupyter._internal.wire.proto import admin_service_pb2 as admin_pb
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _backend_fixture import BackendProcess  # noqa: E402

env = flyte.TaskEnvironment(name="fuzz")


@env.task
def target(x: int, label: str = "") -> int:
    return x


LIVE = "fuzz-live"
ABORTABLE = "fuzz-abortable"
DELETABLE = "fuzz-deletable"
ATTRS_PROJECT = "fuzz-attrs"  # the resource attributes' own project: SetLimits' limits stay apart
TERMINAL = {pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT, pb.PHASE_RECOVERED}
BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
STREAM_END_CODES = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=30)


# -- every method -----------------------------------------------------------------------------------

def _methods() -> list[tuple[str, Any, bool]]:
    """(path, request class, server streaming) of every method of the four services."""
    from google.protobuf import message_factory

    out = []
    for module in (run_pb, queue_pb, state_pb, admin_pb):
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                out.append((f"/{service.full_name}/{m.name}", message_factory.GetMessageClass(m.input_type),
                            m.server_streaming))
    return out


METHODS = _methods()
METHOD_IDS = [path.rsplit("/", 1)[-1] for path, _, _ in METHODS]


# -- the backend ------------------------------------------------------------------------------------


class Fuzzed:
    def __init__(self, backend: BackendProcess) -> None:
        self.backend = backend
        self.channel = grpc.insecure_channel(backend.endpoint)
        self.admin = [("authorization", f"Bearer {backend.token}")]
        from flyte_jupyter._internal.runtime import storage as _storage

        self.storage_root = backend.client_values()["storage_root"]
        self.runs_dir = Path(_storage.local_path(self.storage_root)) / "runs"

    def call(self, method: str, data: bytes, streaming: bool, metadata: Any = "admin") -> grpc.StatusCode:
        md = self.admin if metadata == "admin" else metadata
        try:
            if streaming:
                # WatchRuns answers only when a run changes: a short wait is all it can get
                wait = 0.1 if method.endswith("/WatchRuns") else 0.5
                stream = self.channel.unary_stream(method)(data, metadata=md, timeout=wait)
                try:
                    next(iter(stream), None)  # the first answer (a snapshot, or the end) is enough
                finally:
                    stream.cancel()
            else:
                self.channel.unary_unary(method)(data, metadata=md, timeout=10)
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            if code in STREAM_END_CODES and streaming:
                return grpc.StatusCode.OK  # a live stream with nothing to say yet (WatchRuns)
            return code
        return grpc.StatusCode.OK

    def run_exists(self, project: str, domain: str, name: str) -> bool:
        req = run_pb.GetRunRequest(id=pb.ActionIdentifier(project=project, domain=domain, run=name))
        code = self.call("/flyte_jupyter.v1.RunService/GetRun", req.SerializeToString(), False)
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT), code
        return code == grpc.StatusCode.OK

    def live_actions(self) -> set[str]:
        req = run_pb.GetRunRequest(id=pb.ActionIdentifier(run=LIVE))
        resp = run_pb.GetRunResponse.FromString(self.channel.unary_unary("/flyte_jupyter.v1.RunService/GetRun")(
            req.SerializeToString(), metadata=self.admin, timeout=10))
        return {a.id.name for a in resp.actions}

    def inputs_files(self, run: str = LIVE) -> set[str]:
        folder = self.runs_dir / "default" / "development" / run / "inputs"
        return {p.name for p in folder.iterdir()} if folder.exists() else set()

    def log_mark(self) -> int:
        return len(self.backend.log_text())

    def assert_quiet_log(self, mark: int, max_lines: int = 12, settle: float = 0.0) -> None:
        time.sleep(settle)  # accepted actions launch after the answer: let that happen first
        text = self.backend.log_text()[mark:]
        assert "Traceback" not in text, text[-3000:]
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) <= max_lines, lines


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    backend = BackendProcess(tmp_path_factory.mktemp("fuzz-backend"),
                             extra_args=["--executor", "_null_executor:create_plugin", "--max-parallelism", "1000"],
                             env={"PYTHONPATH": path})
    backend.start()  # stopped by stop() alone: the null executor's handles are no process groups
    try:
        f = Fuzzed(backend)
        for name in (LIVE, ABORTABLE):
            req = _base_create(f)
            req.run_name = name
            code = f.call("/flyte_jupyter.v1.RunService/CreateRun", req.SerializeToString(), False)
            assert code == grpc.StatusCode.OK
        yield f
        f.channel.close()
    finally:
        backend.stop()


# -- valid messages ---------------------------------------------------------------------------------


def _spec() -> pb.TaskSpec:
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    return task_spec(target, CodeRef("tgz", "file:///nowhere/bundle.tar.gz", "fuzz1"), "default", "development")


def _inputs(x: int = 1) -> bytes:
    from flyte_jupyter._internal.runtime.spec import encode_inputs

    return encode_inputs(target, {"x": x, "label": "a"}, None)[0]


def _base_create(f: Fuzzed) -> run_pb.CreateRunRequest:
    return run_pb.CreateRunRequest(project="default", domain="development", task=_spec(), inputs=_inputs())


def _base_enqueue(name: str = "fuzz-child") -> queue_pb.EnqueueActionRequest:
    return queue_pb.EnqueueActionRequest(
        id=pb.ActionIdentifier(project="default", domain="development", run=LIVE, name=name), parent="a0",
        task=_spec(), inputs=_inputs(2))


def _base_delete(f: Fuzzed) -> run_pb.DeleteRunRequest:
    """A finished run to delete: created, aborted and waited for (a live run is refused)."""
    create = _base_create(f)
    create.run_name = DELETABLE
    assert f.call("/flyte_jupyter.v1.RunService/CreateRun", create.SerializeToString(), False) == grpc.StatusCode.OK
    run = pb.ActionIdentifier(project="default", domain="development", run=DELETABLE)
    abort = run_pb.AbortRunRequest(id=run)
    assert f.call("/flyte_jupyter.v1.RunService/AbortRun", abort.SerializeToString(), False) == grpc.StatusCode.OK
    get = f.channel.unary_unary("/flyte_jupyter.v1.RunService/GetRun")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = run_pb.GetRunResponse.FromString(get(run_pb.GetRunRequest(id=run).SerializeToString(),
                                                    metadata=f.admin, timeout=10))
        if all(a.phase in TERMINAL for a in resp.actions):
            break
        time.sleep(0.1)
    return run_pb.DeleteRunRequest(id=run)


def _base(path: str, f: Fuzzed) -> Any:
    name = path.rsplit("/", 1)[-1]
    live = pb.ActionIdentifier(project="default", domain="development", run=LIVE, name="a0")
    bases: dict[str, Callable[[], Any]] = {
        "CreateRun": lambda: _base_create(f),
        "GetRun": lambda: run_pb.GetRunRequest(id=live),
        "ListRuns": lambda: run_pb.ListRunsRequest(project="default", domain="development", limit=5),
        "AbortRun": lambda: run_pb.AbortRunRequest(id=pb.ActionIdentifier(run=ABORTABLE)),
        "WatchRuns": lambda: run_pb.WatchRunsRequest(project="default"),
        "DeleteRun": lambda: _base_delete(f),
        "EnqueueAction": lambda: _base_enqueue(),
        "EnqueueActions": lambda: queue_pb.EnqueueActionsRequest(actions=[_base_enqueue("fuzz-a"),
                                                                          _base_enqueue("fuzz-b")]),
        "AbortQueuedAction": lambda: queue_pb.AbortQueuedActionRequest(
            id=pb.ActionIdentifier(run=ABORTABLE, name="a0")),
        "Watch": lambda: state_pb.WatchRequest(run=live),
        "GetAction": lambda: state_pb.GetActionRequest(id=live),
        "TailLogs": lambda: state_pb.TailLogsRequest(id=live),
        "TailRunLogs": lambda: state_pb.TailRunLogsRequest(run=live, max_actions=5,
                                                           resume=[state_pb.LogCursor(action="a0", attempt=1, lines=1)]),
        "ListCache": lambda: admin_pb.ListCacheRequest(limit=3),
        "ClearCache": lambda: admin_pb.ClearCacheRequest(task_name="nothing.cached"),
        "SetLimits": lambda: admin_pb.SetLimitsRequest(project="fuzz-proj", domain="development",
                                                       limits=pb.Resources(cpu="2")),
        "GetLimits": lambda: admin_pb.GetLimitsRequest(project="fuzz-proj"),
        "Status": lambda: admin_pb.BackendStatusRequest(),
        "UpdateResourceAttributes": lambda: admin_pb.UpdateResourceAttributesRequest(
            project=ATTRS_PROJECT, domain="development", attributes=admin_pb.ResourceAttributes(
                defaults=pb.Resources(cpu="1", memory="256Mi"), limits=pb.Resources(cpu="2", memory="1Gi"))),
        "GetResourceAttributes": lambda: admin_pb.GetResourceAttributesRequest(project=ATTRS_PROJECT,
                                                                               domain="development"),
        "DeleteResourceAttributes": lambda: admin_pb.DeleteResourceAttributesRequest(project=ATTRS_PROJECT,
                                                                                     domain="development"),
    }
    return bases[name]()


# -- mutations: a random partial message laid over the valid one --------------------------------------

_STRINGS = ["a", "x\n", "ok-name\n", "ok-name\r\n", "\0", "a\0b", "A=B", "=", "../..", "..", "/etc/passwd",
            "file:///etc/passwd", "nan", "NaN", "inf", "-inf", "-1", "1e999", "9" * 400, "0.5", "{", "[]",
            '{"pod_template": 1}', '{"a": NaN}', "é", "a" * 300, "fuzz-x", "python", "a0", "v1", "fuzz1",
            "%2e%2e", "Bearer", " ", "\t", "fuzz-proj", "fuzz.target"]
_FLOATS = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e300, 5e-324, 1e9, 3.5]
_INTS = [-1, 0, 1, 2, 2**31 - 1, -(2**31)]
_INT64 = [-1, 0, 2**63 - 1, -(2**63)]


def _scalar(field: Any) -> st.SearchStrategy:
    fd = field
    T = type(fd)
    if fd.type == T.TYPE_STRING:
        return st.sampled_from(_STRINGS) | st.text(max_size=24)
    if fd.type == T.TYPE_BYTES:
        return st.sampled_from([b"", b"\xff\xff", _inputs(7), os.urandom(32)]) | st.binary(max_size=64)
    if fd.type in (T.TYPE_DOUBLE, T.TYPE_FLOAT):
        return st.sampled_from(_FLOATS) | st.floats(allow_nan=True, allow_infinity=True)
    if fd.type == T.TYPE_BOOL:
        return st.booleans()
    if fd.type == T.TYPE_ENUM:
        return st.sampled_from([v.number for v in fd.enum_type.values] + [99])
    if fd.type in (T.TYPE_INT64, T.TYPE_SINT64, T.TYPE_SFIXED64):
        return st.sampled_from(_INT64) | st.integers(-(2**63), 2**63 - 1)
    if fd.type in (T.TYPE_UINT32, T.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if fd.type in (T.TYPE_UINT64, T.TYPE_FIXED64):
        return st.integers(0, 2**64 - 1)
    return st.sampled_from(_INTS) | st.integers(-(2**31), 2**31 - 1)


def _leaf_paths(descriptor: Any, depth: int = 0) -> list[tuple[Any, ...]]:
    """Every scalar, repeated-scalar and map field reachable from a message type, as a chain of
    field descriptors (through singular messages and the first element of repeated ones)."""
    out: list[tuple[Any, ...]] = []
    for fd in descriptor.fields:
        T = type(fd)
        if fd.type == T.TYPE_MESSAGE and not fd.message_type.GetOptions().map_entry:
            if depth < 4:
                out.extend((fd, *rest) for rest in _leaf_paths(fd.message_type, depth + 1))
        else:
            out.append((fd,))
    return out


def _value(fd: Any) -> st.SearchStrategy:
    T = type(fd)
    if fd.type == T.TYPE_MESSAGE:  # a map
        key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        if value_fd.type == T.TYPE_MESSAGE:
            return st.just({})
        return st.dictionaries(_scalar(key_fd), _scalar(value_fd), max_size=3)
    if fd.is_repeated:
        return st.lists(_scalar(fd), max_size=3)
    return _scalar(fd)


def _apply(msg: Any, path: tuple[Any, ...], value: Any) -> None:
    target = msg
    for fd in path[:-1]:
        child = getattr(target, fd.name)
        target = (child[0] if len(child) else child.add()) if fd.is_repeated else child
    last = path[-1]
    field = getattr(target, last.name) if last.is_repeated or last.type == type(last).TYPE_MESSAGE else None
    if field is not None and hasattr(field, "update"):  # a map
        field.clear()
        field.update(value)
    elif field is not None:
        del field[:]
        field.extend(value)
    else:
        setattr(target, last.name, value)


def _fresh_versions(msg: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    """A changed task spec gets a version of its own (as the SDK's content-hashed versions do), so
    the change reaches the checks instead of "this version exists with another spec"; unless
    the version itself is what was changed."""
    import hashlib

    if any(p[-1].full_name == "flyte_jupyter.v1.TaskIdentifier.version" for p, _ in changes):
        return
    specs = [msg.task] if hasattr(msg, "task") else [a.task for a in getattr(msg, "actions", [])]
    for spec in specs:
        spec.id.version = "fz-" + hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()[:16]


@st.composite
def mutations(draw: Any, cls: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """One to three (field path, awkward value) pairs for a message of `cls`."""
    paths = _leaf_paths(cls.DESCRIPTOR)
    if not paths:
        return []
    chosen = draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3,
                           unique_by=lambda p: tuple(fd.full_name for fd in p)))
    return [(path, draw(_value(path[-1]))) for path in chosen]


# -- what must hold after a refusal --------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def _create_refused_stored_nothing(f: Fuzzed, req: run_pb.CreateRunRequest, existed: bool) -> None:
    if not req.run_name:
        return
    project, domain = req.project or "default", req.domain or "development"
    assert f.run_exists(project, domain, req.run_name) == existed, req.run_name
    if not existed and all(_NAME.fullmatch(v) for v in (project, domain, req.run_name)):
        assert not (f.runs_dir / project / domain / req.run_name).exists(), req.run_name


def _check_call(f: Fuzzed, path: str, msg: Any, streaming: bool) -> grpc.StatusCode:
    name = path.rsplit("/", 1)[-1]
    existed = False
    before_actions: set[str] = set()
    before_files: set[str] = set()
    if name == "CreateRun" and msg.run_name:
        existed = f.run_exists(msg.project or "default", msg.domain or "development", msg.run_name)
    if name in ("EnqueueAction", "EnqueueActions"):
        before_actions, before_files = f.live_actions(), f.inputs_files()
    code = f.call(path, msg.SerializeToString(), streaming)
    assert code not in BAD_CODES | STREAM_END_CODES, (path, code, msg)
    if code != grpc.StatusCode.OK:
        if name == "CreateRun":
            _create_refused_stored_nothing(f, msg, existed)
        if name in ("EnqueueAction", "EnqueueActions"):
            requested = [msg] if name == "EnqueueAction" else list(msg.actions)
            after = f.live_actions()
            new = {r.id.name for r in requested} - before_actions
            assert not (new & after), (code, new & after)
            assert f.inputs_files() == before_files
    return code


# -- the tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, cls, streaming", METHODS, ids=METHOD_IDS)
def test_random_bytes_with_the_token(fuzzed: Fuzzed, path: str, cls: Any, streaming: bool) -> None:
    mark = fuzzed.log_mark()

    @FUZZ
    @given(data=st.binary(max_size=256))
    def check(data: bytes) -> None:
        before = fuzzed.inputs_files()
        code = fuzzed.call(path, data, streaming)
        assert code not in BAD_CODES, (path, code, data)
        if code != grpc.StatusCode.OK and path.endswith(("/EnqueueAction", "/EnqueueActions")):
            assert fuzzed.inputs_files() == before

    check()
    fuzzed.assert_quiet_log(mark)


@pytest.mark.parametrize("path, cls, streaming", METHODS, ids=METHOD_IDS)
def test_random_bytes_without_a_token(fuzzed: Fuzzed, path: str, cls: Any, streaming: bool) -> None:
    mark = fuzzed.log_mark()

    @FEW
    @given(data=st.binary(max_size=256), token=st.sampled_from([None, "wrong", "fjr1.x.y", ""]))
    def check(data: bytes, token: str | None) -> None:
        metadata = [("authorization", f"Bearer {token}")] if token is not None else None
        assert fuzzed.call(path, data, streaming, metadata) == grpc.StatusCode.UNAUTHENTICATED

    check()
    fuzzed.assert_quiet_log(mark)


@pytest.mark.parametrize("path, cls, streaming", METHODS, ids=METHOD_IDS)
def test_valid_messages_with_mutated_fields(fuzzed: Fuzzed, path: str, cls: Any, streaming: bool) -> None:
    mark = fuzzed.log_mark()
    base = _base(path, fuzzed)
    assert _check_call(fuzzed, path, base, streaming) in (grpc.StatusCode.OK, grpc.StatusCode.ALREADY_EXISTS)

    @(FEW if path.endswith("/WatchRuns") else FUZZ)  # WatchRuns waits out each call: fewer of them
    @given(changes=mutations(cls))
    def check(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
        msg = cls()
        msg.CopyFrom(base)
        for field_path, value in changes:
            _apply(msg, field_path, value)
        _fresh_versions(msg, changes)
        _check_call(fuzzed, path, msg, streaming)

    check()
    fuzzed.assert_quiet_log(mark, settle=1.0 if path.endswith(("/CreateRun", "/EnqueueAction", "/EnqueueActions"))
                            else 0.0)
