"""BackendClient: the async gRPC client of the flyte-jupyter backend.

Used by remote runs, the notebook magics and widgets, the Jupyter server extension and the CLI.
It speaks the generated stubs and hands back the SDK's plain models (`RunSummary`, `ActionInfo`,
`ActionEvent`, `LogLine`), so its callers never touch protobuf.

A grpc.aio channel belongs to the event loop it was made on; the client keeps one channel per loop,
so one client object may be used from a server's loop and from `asyncio.run` in a helper thread.
A client made with `channels_of=other` calls over `other`'s channels with its own token: a warm
worker serving one run after another keeps one connection to the backend and sends each run's
credential with each call (the backend checks the token of every call, never the connection's).
A channel whose last connect failed is replaced by the next call (`wire/channels`): a backend
started again on its port answers at once, not after grpc's growing wait between connects.

Every call carries the backend's token (`authorization: Bearer <token>` metadata). Errors arrive as
`BackendError` with the gRPC status name in `.code` ("INVALID_ARGUMENT", "ALREADY_EXISTS", ...).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, AsyncIterator

import grpc
import grpc.aio

from flyte_jupyter._internal.wire.channels import OWN_CONNECTIONS, in_backoff, retire
from flyte_jupyter._internal.wire.convert import (
    RunSummary,
    action_event,
    action_info,
    run_summary,
)
from flyte_jupyter._internal.wire.models import ActionEvent, ActionInfo
from flyte_jupyter._internal.wire.proto import admin_service_pb2 as admin_pb
from flyte_jupyter._internal.wire.proto import admin_service_pb2_grpc as admin_grpc
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2_grpc as queue_grpc
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import run_service_pb2_grpc as run_grpc
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter._internal.wire.proto import task_service_pb2_grpc as task_grpc
from flyte_jupyter.errors import BackendError

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.enable_retries", 1),
    OWN_CONNECTIONS,
]
_RECONNECT_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


class Synced:
    """Marker yielded by `watch_run` once the first snapshot is complete."""

    def __repr__(self) -> str:
        return "SYNCED"


SYNCED = Synced()


@dataclasses.dataclass
class WatchBatch:
    """Raw watch update (protobuf actions with their change numbers), for informers."""

    actions: list[pb.Action]
    synced: bool
    seq: int


@dataclasses.dataclass(frozen=True)
class LogLine:
    """One line an action printed."""

    stream: str
    text: str
    timestamp: float
    attempt: int
    partial: bool = False  # the line goes on: the next line of this stream continues it (no newline)


@dataclasses.dataclass
class ActionDetail:
    """One action's state plus where its data lives."""

    info: ActionInfo
    inputs_uri: str
    outputs_uri: str
    task_version: str
    max_attempts: int
    seq: int
    spec: Any = None  # the task's TaskSpec message, when the backend has it


def _translate(err: grpc.aio.AioRpcError, endpoint: str) -> BackendError:
    code = err.code()
    detail = err.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return BackendError(
            code.name,
            f"cannot reach the flyte-jupyter backend at {endpoint} ({detail}); start it with "
            "`flyte-jupyter backend start` or check the endpoint in your config",
        )
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return BackendError(
            code.name,
            f"the backend at {endpoint} refused the call: {detail}; use the token from the backend's "
            "client.yaml (flyte.init_from_config('DIR/client.yaml'))",
        )
    return BackendError(code.name, detail or code.name)


class BackendClient:
    """Async client of one backend. Cheap to create; channels are opened lazily."""

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        insecure: bool = True,
        ca_cert: str | None = None,
        project: str = "default",
        domain: str = "development",
        channels_of: "BackendClient | None" = None,
        closes_shared: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.token = token
        self.insecure = insecure
        self.ca_cert = ca_cert
        self.project = project
        self.domain = domain
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channels: dict[int, tuple[asyncio.AbstractEventLoop, grpc.aio.Channel, dict[str, Any]]] = {}
        # the channels are another client's: it closes them, unless this client may (`closes_shared`:
        # the process-wide clients of `resolve`, whose close() means "reconnect on the next call")
        self._borrowed = channels_of is not None and not closes_shared
        if channels_of is not None:
            if (channels_of.endpoint, channels_of.insecure, channels_of.ca_cert) != (endpoint, insecure, ca_cert):
                raise ValueError("a client can share channels only with a client of the same endpoint and TLS settings")
            self._channels = channels_of._channels

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> "BackendClient":
        """A client for the backend described by a client.yaml (as `backend start` writes it)."""
        from flyte_jupyter._config import load_config_file

        values = load_config_file(path)
        if not values.get("endpoint"):
            raise BackendError("INVALID_ARGUMENT", f"{path} has no `endpoint`; is it a backend's client.yaml?")
        return cls(
            values["endpoint"],
            values.get("api_key"),
            insecure=values.get("insecure") is not False,
            ca_cert=values.get("ca_cert"),
            project=values.get("project") or "default",
            domain=values.get("domain") or "development",
        )

    @classmethod
    def from_config(cls, cfg: Any = None) -> "BackendClient":
        """A client for the SDK's active configuration (`flyte.init(...)` / `init_from_config`)."""
        from flyte_jupyter import _config

        cfg = cfg or _config.current()
        if not cfg.endpoint:
            raise BackendError(
                "FAILED_PRECONDITION",
                "no backend endpoint is configured; call flyte.init_from_config('DIR/client.yaml') or "
                "flyte.init(endpoint=..., api_key=...)",
            )
        return cls(cfg.endpoint, cfg.api_key, insecure=cfg.insecure, ca_cert=cfg.ca_cert,
                   project=cfg.project, domain=cfg.domain)

    def run_url(self, run_name: str, project: str | None = None, domain: str | None = None) -> str:
        """A stable address for a run (shown by `Run.url`; the side panel opens it)."""
        return f"flyte-jupyter://{self.endpoint}/{project or self.project}/{domain or self.domain}/{run_name}"

    # -- channel ------------------------------------------------------------------------------

    def _stubs(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        entry = self._channels.get(id(loop))
        if entry is not None and entry[0] is loop and in_backoff(entry[1]):
            del self._channels[id(loop)]  # the backend went away: a new channel reaches it at once if it is back
            retire(entry[1])
            entry = None
        if entry is None or entry[0] is not loop:
            for key, (other, _, _) in list(self._channels.items()):
                if other.is_closed():
                    del self._channels[key]
            if self.insecure:
                channel = grpc.aio.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS)
            else:
                root = Path(self.ca_cert).read_bytes() if self.ca_cert else None
                creds = grpc.ssl_channel_credentials(root_certificates=root)
                channel = grpc.aio.secure_channel(self.endpoint, creds, options=_CHANNEL_OPTIONS)
            stubs = {
                "run": run_grpc.RunServiceStub(channel),
                "queue": queue_grpc.QueueServiceStub(channel),
                "state": state_grpc.StateServiceStub(channel),
                "admin": admin_grpc.AdminServiceStub(channel),
            }
            entry = (loop, channel, stubs)
            self._channels[id(loop)] = entry
        return entry[2]

    async def _call(self, service: str, method: str, request: Any, timeout: float | None = 60.0) -> Any:
        fn = getattr(self._stubs()[service], method)
        try:
            return await fn(request, metadata=self._metadata, timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise _translate(err, self.endpoint) from None

    async def close(self) -> None:
        """Close the channel of the current loop (others close with their loops); a client using
        another's channels (`channels_of`) leaves them to it unless made with `closes_shared`."""
        if self._borrowed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        entry = self._channels.pop(id(loop), None)
        if entry is not None:
            await entry[1].close()

    def _aid(self, run: str, name: str = "a0", project: str | None = None, domain: str | None = None) -> pb.ActionIdentifier:
        return pb.ActionIdentifier(project=project or self.project, domain=domain or self.domain, run=run, name=name)

    # -- runs ---------------------------------------------------------------------------------

    async def create_run(
        self,
        task: pb.TaskSpec | None,
        *,
        inputs: bytes = b"",
        inputs_uri: str = "",
        inputs_hash: str = "",
        run_name: str = "",
        project: str | None = None,
        domain: str | None = None,
        overwrite_cache: bool = False,
        env_vars: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        raw_data_path: str = "",
        rerun: run_pb.RerunSource | None = None,
    ) -> RunSummary:
        """Validate, store and start a run of `task` (root action a0). Raises BackendError with
        INVALID_ARGUMENT (names, limits, sizes) or ALREADY_EXISTS (run name, task version).
        With `rerun`, the run replays (and may recover from) an earlier run; `task` may then be None
        (the source action's recorded task)."""
        req = run_pb.CreateRunRequest(
            project=project or self.project, domain=domain or self.domain, run_name=run_name, task=task,
            inputs=inputs, inputs_uri=inputs_uri, inputs_hash=inputs_hash, overwrite_cache=overwrite_cache,
            env_vars=env_vars or {}, labels=labels or {}, raw_data_path=raw_data_path, rerun=rerun,
        )
        resp = await self._call("run", "CreateRun", req)
        return run_summary(resp.run, self.run_url(resp.run.id.run, resp.run.id.project, resp.run.id.domain))

    async def get_run(self, name: str, project: str | None = None, domain: str | None = None) -> tuple[RunSummary, list[ActionInfo]]:
        """The run and every action of it (a flat list; `parent` links make the tree), each with
        where its inputs and outputs are stored (`inputs_uri`, `outputs_uri`) and every attempt."""
        resp = await self._get_run(name, project, domain)
        return run_summary(resp.run, self.run_url(name, project, domain)), [action_info(a) for a in resp.actions]

    async def get_run_actions(self, name: str, project: str | None = None, domain: str | None = None) -> list[pb.Action]:
        """Every action of the run as the backend recorded it (Action messages: with the task
        version and fields `ActionInfo` leaves out), for callers that read the records themselves."""
        return list((await self._get_run(name, project, domain)).actions)

    async def _get_run(self, name: str, project: str | None, domain: str | None) -> run_pb.GetRunResponse:
        return await self._call("run", "GetRun", run_pb.GetRunRequest(id=self._aid(name, "", project, domain)))

    async def list_runs(self, limit: int = 50, phase: str | None = None, project: str | None = None,
                        domain: str | None = None) -> list[RunSummary]:
        """Newest first."""
        resp = await self._call("run", "ListRuns", run_pb.ListRunsRequest(
            project=project or self.project, domain=domain or self.domain, limit=limit, phase=phase or ""))
        return [run_summary(r, self.run_url(r.id.run, r.id.project, r.id.domain)) for r in resp.runs]

    async def abort_run(self, name: str, reason: str = "aborted by user", project: str | None = None,
                        domain: str | None = None) -> None:
        """Abort the run: every live action stops and ends ABORTED."""
        await self._call("run", "AbortRun", run_pb.AbortRunRequest(id=self._aid(name, "", project, domain), reason=reason))

    async def delete_run(self, name: str, project: str | None = None, domain: str | None = None) -> tuple[int, list[str]]:
        """Delete a finished run: its records and its data in storage. Returns (actions deleted,
        storage prefixes that stayed). A running run is refused (FAILED_PRECONDITION): abort it first."""
        resp = await self._call("run", "DeleteRun", run_pb.DeleteRunRequest(id=self._aid(name, "", project, domain)))
        return resp.actions, list(resp.kept)

    async def get_action(self, run: str, action: str = "a0", project: str | None = None,
                         domain: str | None = None) -> ActionDetail:
        """One action, where its data is, and its task's spec (`spec`, None if the backend lost it)."""
        resp = await self._call("state", "GetAction", state_pb.GetActionRequest(id=self._aid(run, action, project, domain)))
        a = resp.action
        return ActionDetail(action_info(a), a.inputs_uri, a.outputs_uri, a.task_version, a.max_attempts, a.seq,
                            resp.task if resp.HasField("task") else None)

    async def abort_queued_action(self, run: str, action: str, reason: str = "aborted", project: str | None = None,
                                  domain: str | None = None, timeout: float | None = 30.0) -> None:
        """Abort one action (and its descendants), queued or running."""
        req = queue_pb.AbortQueuedActionRequest(id=self._aid(run, action, project, domain), reason=reason)
        await self._call("queue", "AbortQueuedAction", req, timeout=timeout)

    async def get_action_spec(self, run: str, action: str = "a0", *, with_inputs: bool = False,
                              project: str | None = None, domain: str | None = None
                              ) -> tuple[pb.Action, pb.TaskSpec, bytes]:
        """The action as recorded, the task spec it ran (its code bundle, env, version) and, with
        `with_inputs`, its serialized inputs: what a rerun replays and a debug session loads."""
        resp = await self._call("state", "GetAction", state_pb.GetActionRequest(
            id=self._aid(run, action, project, domain), with_inputs=with_inputs))
        return resp.action, resp.task, resp.inputs

    # -- children (used by the remote controller inside an action) -----------------------------

    async def enqueue_actions(self, requests: list[queue_pb.EnqueueActionRequest]) -> list[queue_pb.EnqueueActionResponse]:
        """Enqueue child actions in one call; an existing action is returned with existed=True."""
        resp = await self._call("queue", "EnqueueActions", queue_pb.EnqueueActionsRequest(actions=requests))
        return list(resp.results)

    # -- watching -----------------------------------------------------------------------------

    async def watch_raw(
        self, run: str, parent: str = "", since_seq: int = 0, *, reconnect: bool = True,
        reconnect_timeout: float = 120.0, project: str | None = None, domain: str | None = None,
        terminal_only: bool = False,
    ) -> AsyncIterator[WatchBatch]:
        """Watch a run (or one parent's children): batches of changed actions, one synced batch
        after the first snapshot, then live changes. On a broken stream it reconnects with the
        last change number it saw, so nothing is missed or repeated (a second synced batch follows
        the catch-up after a reconnect)."""
        seq = since_seq
        lost_at: float | None = None
        while True:
            call = self._stubs()["state"].Watch(
                state_pb.WatchRequest(run=self._aid(run, "", project, domain), parent=parent, since_seq=seq,
                                      terminal_only=terminal_only),
                metadata=self._metadata,
            )
            try:
                async for msg in call:
                    lost_at = None
                    fresh = [a for a in msg.actions if a.seq > seq]
                    if fresh:
                        seq = max(seq, max(a.seq for a in fresh))
                    seq = max(seq, msg.seq)
                    if fresh or msg.synced:
                        yield WatchBatch(fresh, msg.synced, seq)
                return
            except grpc.aio.AioRpcError as err:
                if not reconnect or err.code() not in _RECONNECT_CODES:
                    raise _translate(err, self.endpoint) from None
                now = time.monotonic()
                lost_at = lost_at or now
                if now - lost_at > reconnect_timeout:
                    raise _translate(err, self.endpoint) from None
                await asyncio.sleep(0.2)
            finally:
                call.cancel()

    async def watch_run(self, run: str, parent: str | None = None, *, reconnect: bool = True,
                        project: str | None = None, domain: str | None = None) -> AsyncIterator[ActionEvent | Synced]:
        """ActionEvents for every change of the run (or of `parent`'s children), with `SYNCED`
        yielded once after the initial snapshot. Ends when the caller stops iterating."""
        synced_once = False
        async for batch in self.watch_raw(run, parent or "", reconnect=reconnect, project=project, domain=domain):
            for action in batch.actions:
                yield action_event(action)
            if batch.synced and not synced_once:
                synced_once = True
                yield SYNCED

    async def watch_runs(self, project: str | None = None, domain: str | None = None) -> AsyncIterator[RunSummary]:
        """A RunSummary each time a run's root action changes (new runs included), until the
        caller stops iterating: what a runs list keeps itself fresh with."""
        call = self._stubs()["run"].WatchRuns(
            run_pb.WatchRunsRequest(project=project or self.project, domain=domain or self.domain),
            metadata=self._metadata,
        )
        try:
            async for msg in call:
                yield run_summary(msg.run, self.run_url(msg.run.id.run, msg.run.id.project, msg.run.id.domain))
        except grpc.aio.AioRpcError as err:
            raise _translate(err, self.endpoint) from None
        finally:
            call.cancel()

    async def tail_logs(self, run: str, action: str = "a0", attempt: int = 0, follow: bool = False,
                        project: str | None = None, domain: str | None = None,
                        partial_lines: bool = False) -> AsyncIterator[LogLine]:
        """The action's printed lines (latest attempt by default), stdout and stderr in the order
        they were written; `follow` waits for more until the attempt ends. With `partial_lines`
        a line still being written comes as it grows (`partial=True` pieces, each continued by
        the stream's next line: what a live view of a `\r` progress bar wants); without, pieces
        are joined into whole lines."""
        call = self._stubs()["state"].TailLogs(
            state_pb.TailLogsRequest(id=self._aid(run, action, project, domain), attempt=attempt, follow=follow),
            metadata=self._metadata,
        )
        open_lines: dict[str, LogLine] = {}  # per stream, the pieces of the line not ended yet
        try:
            async for msg in call:
                for line in msg.lines:
                    got = LogLine(line.stream, line.text, line.timestamp, line.attempt, line.partial)
                    if partial_lines:
                        yield got
                        continue
                    held = open_lines.pop(got.stream, None)
                    if held is not None:
                        got = dataclasses.replace(got, text=held.text + got.text)
                    if got.partial:
                        open_lines[got.stream] = got
                    else:
                        yield got
            for held in open_lines.values():  # the stream ended inside a line
                yield dataclasses.replace(held, partial=False)
        except grpc.aio.AioRpcError as err:
            raise _translate(err, self.endpoint) from None
        finally:
            call.cancel()

    async def tail_run_logs(self, run: str, max_actions: int, resume: "dict[str, tuple[int, int]] | None" = None,
                            project: str | None = None, domain: str | None = None,
                            ) -> AsyncIterator[tuple[str, LogLine]]:
        """Every started action's lines of a run in one stream, as (action, line), pieces of a line
        still being written included (`partial`), until the run has ended and its logs are read:
        at most `max_actions` actions, each action's attempts oldest first. `resume` (action ->
        (attempt, lines received of it)) continues a broken stream without repeating a line."""
        request = state_pb.TailRunLogsRequest(run=self._aid(run, "", project, domain), max_actions=max_actions)
        for action, (attempt, lines) in (resume or {}).items():
            request.resume.add(action=action, attempt=attempt, lines=lines)
        call = self._stubs()["state"].TailRunLogs(request, metadata=self._metadata)
        try:
            async for msg in call:
                for tagged in msg.lines:
                    line = tagged.line
                    yield tagged.action, LogLine(line.stream, line.text, line.timestamp, line.attempt, line.partial)
        except grpc.aio.AioRpcError as err:
            raise _translate(err, self.endpoint) from None
        finally:
            call.cancel()

    # -- registered tasks (TaskService) -------------------------------------------------------

    async def call_service(self, name: str, stub_class: Any, method: str, request: Any,
                           timeout: float | None = 60.0) -> Any:
        """Call a service this class has no methods for (`client/platform.py`: secrets, triggers),
        on this loop's channel, with the same credentials and error translation."""
        stubs = self._stubs()
        if name not in stubs:
            stubs[name] = stub_class(self._channels[id(asyncio.get_running_loop())][1])
        return await self._call(name, method, request, timeout)

    def _tasks_stubs(self) -> None:
        """Add the TaskService stub beside the others of this loop's channel."""
        stubs = self._stubs()
        if "tasks" not in stubs:
            stubs["tasks"] = task_grpc.TaskServiceStub(self._channels[id(asyncio.get_running_loop())][1])

    async def register_tasks(self, entries: list[task_pb.TaskEntry], *, project: str | None = None,
                             domain: str | None = None, registered_by: str = "",
                             validate_only: bool = False) -> list[task_pb.RegisteredTask]:
        """Register tasks (specs with their version set) in one request, all or none. Raises
        BackendError ALREADY_EXISTS when a version exists with another spec, INVALID_ARGUMENT for a
        spec over the platform limits or otherwise invalid. `validate_only`: check it all (but
        that the bundles are uploaded yet) and store nothing."""
        self._tasks_stubs()
        req = task_pb.RegisterTasksRequest(project=project or self.project, domain=domain or self.domain,
                                           tasks=entries, registered_by=registered_by, validate_only=validate_only)
        resp = await self._call("tasks", "RegisterTasks", req, timeout=300)
        return list(resp.tasks)

    async def get_task(self, name: str, version: str = "", project: str | None = None,
                       domain: str | None = None) -> task_pb.RegisteredTask:
        """A registered task version ("" or "latest": the newest); BackendError NOT_FOUND if none."""
        self._tasks_stubs()
        req = task_pb.GetTaskRequest(id=pb.TaskIdentifier(project=project or self.project, domain=domain or self.domain,
                                                          name=name, version=version))
        return (await self._call("tasks", "GetTask", req)).task

    async def list_tasks(self, project: str | None = None, domain: str | None = None, name: str | None = None,
                         limit: int = 0, latest_only: bool = False) -> list[task_pb.RegisteredTask]:
        """Registered task versions of a project and domain, by name, newest first within a name."""
        self._tasks_stubs()
        req = task_pb.ListTasksRequest(project=project or self.project, domain=domain or self.domain,
                                       name=name or "", limit=limit, latest_only=latest_only)
        return list((await self._call("tasks", "ListTasks", req)).tasks)

    async def create_run_of_registered(
        self,
        name: str,
        version: str = "",
        *,
        inputs: bytes = b"",
        inputs_uri: str = "",
        inputs_hash: str = "",
        run_name: str = "",
        project: str | None = None,
        domain: str | None = None,
        overwrite_cache: bool = False,
        env_vars: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        raw_data_path: str = "",
    ) -> RunSummary:
        """Start a run of a registered task version: the backend runs the registered spec, code and
        image (in the task's project and domain)."""
        project, domain = project or self.project, domain or self.domain
        req = run_pb.CreateRunRequest(
            project=project, domain=domain, run_name=run_name,
            task_ref=pb.TaskIdentifier(project=project, domain=domain, name=name, version=version),
            inputs=inputs, inputs_uri=inputs_uri, inputs_hash=inputs_hash, overwrite_cache=overwrite_cache,
            env_vars=env_vars or {}, labels=labels or {}, raw_data_path=raw_data_path,
        )
        resp = await self._call("run", "CreateRun", req)
        return run_summary(resp.run, self.run_url(resp.run.id.run, resp.run.id.project, resp.run.id.domain))

    # -- admin --------------------------------------------------------------------------------

    async def list_cache(self, task_name: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
        """Cache entries, newest first: task, cache version, inputs hash, outputs, source action."""
        resp = await self._call("admin", "ListCache", admin_pb.ListCacheRequest(task_name=task_name or "", limit=limit))
        return [
            {
                "project": e.project, "domain": e.domain, "task": e.task_name, "cache_version": e.cache_version,
                "inputs_hash": e.inputs_hash, "outputs_uri": e.outputs_uri, "created_at": e.created_at,
                "source": f"{e.source.run}/{e.source.name}",
            }
            for e in resp.entries
        ]

    async def clear_cache(self, task_name: str | None = None) -> int:
        """Evict cache entries (all, or one task's); returns how many were removed."""
        resp = await self._call("admin", "ClearCache", admin_pb.ClearCacheRequest(task_name=task_name or ""))
        return resp.removed

    async def set_limits(self, project: str, domain: str, *, cpu: str | None = None, memory: str | None = None,
                         gpu: str | None = None, disk: str | None = None) -> dict[str, str]:
        """Change the platform limits of a project/domain while the backend runs."""
        req = admin_pb.SetLimitsRequest(project=project, domain=domain, limits=pb.Resources(
            cpu=str(cpu or ""), memory=str(memory or ""), gpu=str(gpu or ""), disk=str(disk or "")))
        resp = await self._call("admin", "SetLimits", req)
        return _resources_dict(resp.limits)

    async def get_limits(self, project: str | None = None, domain: str | None = None) -> dict[str, str]:
        resp = await self._call("admin", "GetLimits", admin_pb.GetLimitsRequest(
            project=project or self.project, domain=domain or self.domain))
        return _resources_dict(resp.limits)

    async def update_resource_attributes(self, project: str, domain: str, defaults: dict[str, str],
                                         limits: dict[str, str]) -> dict[str, Any]:
        """Replace the task-resource attributes (defaults and limits) of a project and domain."""
        req = admin_pb.UpdateResourceAttributesRequest(project=project, domain=domain, attributes=admin_pb.ResourceAttributes(
            defaults=pb.Resources(**{k: str(v) for k, v in defaults.items()}),
            limits=pb.Resources(**{k: str(v) for k, v in limits.items()})))
        return _attributes_dict(await self._call("admin", "UpdateResourceAttributes", req))

    async def get_resource_attributes(self, project: str | None = None, domain: str | None = None) -> dict[str, Any]:
        """{project, domain, defaults, limits, limits_in_effect} of a project and domain."""
        req = admin_pb.GetResourceAttributesRequest(project=project or self.project, domain=domain or self.domain)
        return _attributes_dict(await self._call("admin", "GetResourceAttributes", req))

    async def delete_resource_attributes(self, project: str, domain: str) -> bool:
        """Remove a project-domain's defaults and limits (the backend's own limits apply again);
        whether it had any."""
        req = admin_pb.DeleteResourceAttributesRequest(project=project, domain=domain)
        return (await self._call("admin", "DeleteResourceAttributes", req)).existed

    async def status(self) -> dict[str, Any]:
        """Backend facts: version, executor, max_parallelism, running_actions (busy slots), queued_actions,
        waiting_parents (running but without a slot: waiting on children), data_dir,
        storage_root, pid, endpoint, task_types (type -> the plugin serving it), and the capacity
        actions are admitted by: cpu_capacity and cpu_requested (cores), memory_capacity and
        memory_requested (bytes), what running actions request of it."""
        resp = await self._call("admin", "Status", admin_pb.BackendStatusRequest(), timeout=10)
        return {
            "version": resp.version, "executor": resp.executor, "max_parallelism": resp.max_parallelism,
            "running_actions": resp.running, "queued_actions": resp.queued,
            "waiting_parents": resp.waiting_parents, "data_dir": resp.data_dir,
            "storage_root": resp.storage_root, "pid": resp.pid, "endpoint": self.endpoint,
            "task_types": dict(resp.task_types),
            "cpu_capacity": resp.cpu_capacity, "cpu_requested": resp.cpu_requested,
            "memory_capacity": resp.memory_capacity, "memory_requested": resp.memory_requested,
        }


def _resources_dict(msg: pb.Resources) -> dict[str, str]:
    return {k: v for k, v in (("cpu", msg.cpu), ("memory", msg.memory), ("gpu", msg.gpu), ("disk", msg.disk)) if v}


def _attributes_dict(resp: admin_pb.ResourceAttributesResponse) -> dict[str, Any]:
    return {"project": resp.project, "domain": resp.domain, "defaults": _resources_dict(resp.attributes.defaults),
            "limits": _resources_dict(resp.attributes.limits),
            "limits_in_effect": _resources_dict(resp.limits_in_effect)}
