"""The executor: launches queued actions through plugins, with bounded concurrency, retries with
backoff, timeouts, aborts, the backend-owned cache, and recovery after a restart.

Concurrency: an attempt is admitted when its CPU and memory requests fit the capacity the
running attempts leave free (`admission.py`, as the kube-scheduler binds pods to a node), and no
more than an explicit `max_parallelism` run at once. A parent that enqueues children gives what it
holds back (it is now waiting on them), so a tree deeper than the capacity cannot deadlock.

Ends and crashes: an action's end is recorded only after its live descendants have ended (they
are aborted first), so a run recorded as ended has nothing running under it. An attempt's
outputs.pb is its commit: once it is in place the attempt succeeded, whether the process then
exits, is killed or is lost, here and in recovery alike. After a restart
(`recover`) an attempt's result in storage wins over everything else: one that finished while the
backend was down is collected as it ended, never launched again; a running one is reattached; an
attempt the crash kept from being recorded is found by the plugin (`locate`), so none starts twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.entrypoint import PRELOAD_GRPC_ENV, loader_args
from flyte_jupyter._internal.runtime.loops import BackgroundTasks
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.catalog import TaskCatalog
from flyte_jupyter.backend.config import BackendConfig
from flyte_jupyter.backend.executor.admission import NOTHING, Admission, ReadyQueue, Request, parse_request, request_of
from flyte_jupyter.backend.executor.plugin import (
    BuildError,
    LaunchSpec,
    Outcome,
    OutcomeKind,
    PluginRegistry,
    PluginStatus,
    SecretValue,
    oom_message,
)
from flyte_jupyter.backend.executor.results import write_error
from flyte_jupyter.backend.state import RunEntry, StateHub
from flyte_jupyter.backend.store.records import LIVE_RUNNING, ActionRecord, CacheRecord

log = logging.getLogger("flyte_jupyter.backend")


@dataclasses.dataclass(eq=False)
class Attempt:
    entry: RunEntry
    rec: ActionRecord
    number: int
    launch: LaunchSpec | None = None
    plugin: Any = None
    handle: str = ""
    holds_slot: bool = False  # it holds `request` of the capacity (`_hold`; given back while it waits on children)
    request: Request = NOTHING
    timer: asyncio.TimerHandle | None = None
    abort_reason: str = ""  # "", "abort" or "timeout"
    done: bool = False
    failure: pb.ActionError | None = None  # why it failed before it started (a missing secret)
    launched_at: float = 0.0  # when the plugin was asked to start it
    running_at: float = 0.0  # when it was first seen RUNNING


class CacheIndex:
    """The backend's task cache: (project, domain, task, cache version, inputs hash) -> outputs."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.entries: dict[tuple, CacheRecord] = {}

    async def load(self) -> None:
        for entry in await self.store.all_cache():
            self.entries[entry.key] = entry

    def get(self, key: tuple) -> CacheRecord | None:
        return self.entries.get(key)

    async def put(self, entry: CacheRecord) -> None:
        self.entries[entry.key] = entry
        await self.store.put_cache(entry)

    async def clear(self, task_name: str | None) -> int:
        for key in [k for k in self.entries if not task_name or k[2] == task_name]:
            del self.entries[key]
        return await self.store.delete_cache(task_name)


def cache_key(rec: ActionRecord, spec: pb.TaskSpec) -> tuple[str, str, str, str, str] | None:
    if not spec.cache.enabled or not rec.inputs_hash:
        return None
    return (rec.project, rec.domain, rec.task_name, spec.cache.version, rec.inputs_hash)


def inputs_uri(storage_root: str, project: str, domain: str, run: str, action: str) -> str:
    return _storage.join(storage_root, "runs", project, domain, run, "inputs", f"{action}.pb")


_TEMPLATE_VAR = re.compile(r"\{\{\.(\w+)\}\}")


def _substitute(arg: str, values: dict[str, str]) -> str:
    """Fill `{{.name}}` template variables in one pass; unknown names stay as written."""
    if "{{" not in arg:
        return arg
    return _TEMPLATE_VAR.sub(lambda m: values.get(m.group(1), m.group(0)), arg)


@dataclasses.dataclass(frozen=True)
class _TaskLaunch:
    """What every attempt of one task in one run shares (computed once, not per attempt)."""

    env: dict[str, str]  # without the per-attempt variables
    task_type: str
    image: str
    cpu: float | None
    memory_bytes: int | None
    memory_text: str | None
    gpu: int | None
    timeout: float | None
    custom: dict[str, Any]
    environment: str
    reuse: dict[str, Any] | None
    cpu_request: float | None
    memory_request: int | None


#: Opens the named secrets of a project and domain: name -> value, for the names that exist.
SecretResolver = Callable[[str, str, list[str]], Awaitable[dict[str, bytes]]]


class Executor:
    def __init__(self, config: BackendConfig, hub: StateHub, catalog: TaskCatalog, registry: PluginRegistry,
                 cache: CacheIndex, token: str | Callable[[Any], str], endpoint: str,
                 secrets: SecretResolver | None = None) -> None:
        self.config = config
        self.secrets = secrets
        self.hub = hub
        self.catalog = catalog
        self.registry = registry
        self.cache = cache
        self.token = token
        self.endpoint = endpoint
        self.max_parallelism = config.max_parallelism  # 0: no bound but the capacity
        capacity = parse_request(config.capacity.get("cpu"), config.capacity.get("memory"), "capacity")
        self.admission = Admission(
            Request(capacity.millicpu, capacity.memory or _UNBOUNDED_MEMORY),
            parse_request(config.default_requests.get("cpu"), config.default_requests.get("memory"),
                          "default_requests"),
            config.max_parallelism)
        self.ready = ReadyQueue()  # (entry, action name), by request
        self.attempts: dict[tuple, Attempt] = {}
        self._requests: dict[tuple, Request] = {}  # task key -> its request (from the catalog's spec)
        self._recovering = 0  # admission waits while recovery counts what already runs
        self._background = BackgroundTasks(log, "executor")
        self._inflight: dict[tuple, tuple] = {}  # serialized cache key -> the action computing it
        self._waiting: dict[tuple, list[tuple[RunEntry, ActionRecord]]] = {}
        self._task_launch: dict[tuple, _TaskLaunch] = {}
        # Tasks seen calling other tasks: their actions are forked from a template that has
        # imported grpc already (FLYTE_JUPYTER_PRELOAD_GRPC; see plugins/local/zygote.py).
        self._nesting: set[tuple] = set()

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return len(self.attempts)

    @property
    def busy(self) -> int:
        """Attempts that hold their request (running, not waiting on children)."""
        return self.admission.running

    @property
    def queued(self) -> int:
        return len(self.ready)

    def outputs_prefix(self, rec: ActionRecord, attempt: int) -> str:
        """runs/P/D/RUN/ACTION-ATTEMPT/: outputs.pb or error.pb (and report.html) of one attempt."""
        return _storage.join(self.config.storage_root, "runs", rec.project, rec.domain, rec.run,
                             f"{rec.name}-{attempt}")

    def inputs_uri(self, project: str, domain: str, run: str, action: str) -> str:
        """runs/P/D/RUN/inputs/ACTION.pb (one shared directory: no mkdir per action)."""
        return inputs_uri(self.config.storage_root, project, domain, run, action)

    # -- admission --------------------------------------------------------------------------------

    def request_for(self, spec: pb.TaskSpec | None) -> Request:
        """What one attempt of `spec` holds of the capacity (nothing when its plugin runs it
        elsewhere: a Kubernetes cluster admits pods itself)."""
        if spec is None:
            return self.admission.defaults
        try:
            plugin = self.registry.get(spec.type or "python")
        except LookupError:
            plugin = None
        if plugin is not None and not getattr(plugin, "runs_on_backend_machine", True):
            return NOTHING
        return request_of(spec, self.admission.defaults)

    def refusal(self, spec: pb.TaskSpec) -> str | None:
        """Why actions of `spec` could never be admitted here (a request over the whole
        capacity), or None: checked before an action is stored, so none waits forever."""
        return self.admission.refusal(spec.id.name, self.request_for(spec))

    def _request_of(self, rec: ActionRecord) -> Request:
        req = self._requests.get(rec.task_key)
        if req is None:
            spec = self.catalog.cached(rec.task_key)
            req = self.request_for(spec)
            if spec is None:  # not loaded yet: its launch loads it (or reports it missing)
                return req
            if len(self._requests) >= 4096:
                self._requests.clear()
            self._requests[rec.task_key] = req
        return req

    def _hold(self, att: Attempt, request: Request | None = None) -> None:
        """`att` holds `request` (the one admission checked; by default its task's) of the capacity."""
        att.request = request if request is not None else self._request_of(att.rec)
        att.holds_slot = True
        self.admission.take(att.request)

    def _release(self, att: Attempt) -> None:
        if att.holds_slot:
            att.holds_slot = False
            self.admission.give(att.request)

    def admit(self, entry: RunEntry, rec: ActionRecord, spec: pb.TaskSpec) -> "asyncio.Future":
        """Record a new action: a cache hit ends it at once, anything else is queued.

        Returns the future of the durable write; the caller awaits it before answering."""
        key = cache_key(rec, spec)
        hit = self.cache.get(key) if key is not None and not rec.overwrite_cache else None
        now = time.time()
        rec.queued_at = now
        if hit is not None:
            rec.phase = pb.PHASE_SUCCEEDED
            rec.cache_hit = True
            rec.attempt = 1
            rec.started_at = rec.ended_at = now
            rec.outputs_uri = hit.outputs_uri
            return self.hub.record(entry, [rec])
        fut = self.hub.record(entry, [rec])
        if rec.parent:
            self.release_slot_of(entry, rec.parent)
            parent = entry.actions.get(rec.parent)
            if parent is not None and parent.task_key not in self._nesting:
                if len(self._nesting) >= 4096:
                    self._nesting.clear()
                self._nesting.add(parent.task_key)
        self.queue_new(entry, rec, spec)
        return fut

    def queue_new(self, entry: RunEntry, rec: ActionRecord, spec: pb.TaskSpec) -> None:
        """Queue a new action. With Cache(serialize=True), an action whose cache key is already
        being computed waits for that one and then takes its outputs as a cache hit."""
        key = cache_key(rec, spec)
        if key is not None and spec.cache.serialize and not rec.overwrite_cache:
            if key in self._inflight:
                self._waiting.setdefault(key, []).append((entry, rec))
                return
            self._inflight[key] = rec.key
        self.schedule(entry, rec)

    def _serialized_done(self, rec: ActionRecord, spec: pb.TaskSpec | None) -> None:
        """An action ended: hand its result (or the turn) to the actions waiting on its cache key."""
        key = cache_key(rec, spec) if spec is not None else None
        if key is None or self._inflight.get(key) != rec.key:
            return
        del self._inflight[key]
        waiters = [(e, r) for e, r in self._waiting.pop(key, []) if not r.terminal]
        if not waiters:
            return
        if rec.phase == pb.PHASE_SUCCEEDED:
            now = time.time()
            for e, r in waiters:
                r.phase, r.cache_hit, r.attempt = pb.PHASE_SUCCEEDED, True, 1
                r.started_at = r.ended_at = now
                r.outputs_uri = rec.outputs_uri
                self.hub.record(e, [r])
            return
        first_entry, first = waiters[0]
        self._inflight[key] = first.key
        if waiters[1:]:
            self._waiting[key] = waiters[1:]
        self.schedule(first_entry, first)

    def release_slot_of(self, entry: RunEntry, parent: str) -> None:
        """The parent now waits on children: it stops counting against the concurrency bound."""
        att = self.attempts.get((entry.run.project, entry.run.domain, entry.run.name, parent))
        if att is not None and att.holds_slot:
            self._release(att)
            self._pump()

    def schedule(self, entry: RunEntry, rec: ActionRecord) -> None:
        delay = rec.not_before - time.time()
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._make_ready, entry, rec.name)
        else:
            self._make_ready(entry, rec.name)

    def _make_ready(self, entry: RunEntry, name: str) -> None:
        rec = entry.actions.get(name)
        req = self._request_of(rec) if rec is not None else NOTHING
        refusal = self.admission.refusal(rec.task_name, req) if rec is not None else None
        if rec is not None and refusal is not None and rec.key not in self.attempts:
            # Queued before the capacity shrank (a restart with a smaller one): it would wait forever.
            att = Attempt(entry, rec, rec.attempt + 1)
            att.failure = pb.ActionError(kind="InsufficientCapacity", message=refusal, retryable=False, origin="system")
            self.attempts[rec.key] = att
            rec.attempt = att.number
            self._background.spawn(self._complete(att, Outcome(OutcomeKind.LOST, message="over the capacity")))
            return
        self.ready.push(req, (entry, name))
        self._pump()

    def _pump(self) -> None:
        while not self._recovering and self.ready:
            picked = self.ready.pop_fitting(self.admission)
            if picked is None:
                return
            req, (entry, name) = picked
            rec = entry.actions.get(name)
            if rec is None or rec.phase != pb.PHASE_QUEUED or rec.key in self.attempts:
                continue
            att = Attempt(entry, rec, rec.attempt + 1)
            self._hold(att, req)
            self.attempts[rec.key] = att
            self._background.spawn(self._launch(att))

    # -- launching --------------------------------------------------------------------------------

    def _task_launch_for(self, run: Any, spec: pb.TaskSpec) -> _TaskLaunch:
        key = (run.project, run.domain, run.name, spec.id.name, spec.id.version, id(spec))
        known = self._task_launch.get(key)
        if known is not None:
            return known
        env = dict(spec.env)
        env.update(run.env_vars)
        env.update({
            "FLYTE_JUPYTER_ENDPOINT": self.endpoint,
            "FLYTE_JUPYTER_TOKEN": self.token(run) if callable(self.token) else self.token,  # the run's own
            "FLYTE_JUPYTER_INSECURE": "0" if self.config.tls else "1",
            "FLYTE_JUPYTER_PROJECT": run.project,
            "FLYTE_JUPYTER_DOMAIN": run.domain,
            "FLYTE_JUPYTER_STORAGE_ROOT": self.config.storage_root,
            "FLYTE_JUPYTER_OVERWRITE_CACHE": "1" if run.overwrite_cache else "",
        })
        if self.config.storage_options:  # pods do not inherit the backend's environment
            env[_storage.STORAGE_OPTIONS_ENV] = json.dumps(self.config.storage_options)
        if self.config.tls and self.config.tls_cert:  # tls implies tls_cert
            env["FLYTE_JUPYTER_CA_CERT"] = str(Path(self.config.tls_cert).resolve())
        from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory

        res, asked = spec.resources, spec.requests
        custom: dict[str, Any] = {}
        if spec.custom_json:
            custom = json.loads(spec.custom_json)
        reuse = None
        if spec.HasField("reuse") and spec.reuse.replicas:
            reuse = {"replicas": spec.reuse.replicas, "idle_ttl": spec.reuse.idle_ttl_seconds,
                     "concurrency": spec.reuse.concurrency}
        known = _TaskLaunch(
            env=env, task_type=spec.type or "python", image=spec.image,
            cpu=parse_cpu(res.cpu) if res.cpu else None,
            memory_bytes=parse_memory(res.memory) if res.memory else None,
            memory_text=res.memory or None, gpu=int(float(res.gpu)) if res.gpu else None,
            timeout=spec.timeout_seconds or None, custom=custom, environment=spec.environment, reuse=reuse,
            cpu_request=parse_cpu(asked.cpu) if asked.cpu else None,
            memory_request=parse_memory(asked.memory) if asked.memory else None,
        )
        if len(self._task_launch) >= 4096:
            self._task_launch.clear()
        self._task_launch[key] = known
        return known

    async def _launch_spec(self, att: Attempt, spec: pb.TaskSpec) -> LaunchSpec:
        rec, run = att.rec, att.entry.run
        shared = self._task_launch_for(run, spec)
        prefix = self.outputs_prefix(rec, att.number)
        raw = _storage.join(run.raw_data_path or _storage.join(self.config.storage_root, "raw", rec.run),
                            rec.name, str(att.number))
        values = {
            "input": rec.inputs_uri, "inputs": rec.inputs_uri, "outputPrefix": prefix,
            "rawOutputDataPrefix": raw, "runName": rec.run, "actionName": rec.name,
            "version": rec.task_version, "project": rec.project, "domain": rec.domain,
            "attempt": str(att.number), "checkpointOutputPrefix": _storage.join(prefix, "checkpoint"),
            "prevCheckpointPrefix": "",
        }
        env = dict(shared.env)
        env["FLYTE_JUPYTER_ATTEMPT"] = str(att.number)
        env["FLYTE_JUPYTER_PARENT"] = rec.parent
        if rec.task_key in self._nesting:
            env[PRELOAD_GRPC_ENV] = "1"
        # Flat per-attempt names: a directory level costs a mkdir per action (~0.1 ms on ext4).
        rel = os.path.join(rec.project, rec.domain, rec.run, f"{rec.name}-{att.number}")
        data_dir = str(self.config.data_dir)
        args = tuple(_substitute(a, values) for a in spec.args)
        return LaunchSpec(
            run_name=rec.run, action_name=rec.name, attempt=att.number, project=rec.project, domain=rec.domain,
            task_name=rec.task_name, task_version=rec.task_version, task_type=shared.task_type,
            args=args, loader=loader_args(args), env=env, outputs_path=prefix,
            workdir=os.path.join(data_dir, "work", rel), log_dir=os.path.join(data_dir, "logs", rel),
            image=shared.image, cpu=shared.cpu, memory_bytes=shared.memory_bytes, memory_text=shared.memory_text,
            gpu=shared.gpu, timeout=shared.timeout, custom=dict(shared.custom), environment=shared.environment,
            reuse=dict(shared.reuse) if shared.reuse is not None else None,
            cpu_request=shared.cpu_request, memory_request=shared.memory_request,
        )

    async def _launch(self, att: Attempt) -> None:
        rec = att.rec
        try:
            spec = await self.catalog.get(rec.task_key)
            if spec is None:
                raise LookupError(f"task {rec.task_name} version {rec.task_version} is not registered")
            if spec.max_queued_seconds and time.time() - rec.queued_at > spec.max_queued_seconds and rec.attempt == 0:
                att.abort_reason = "queued-timeout"
                rec.attempt = att.number
                self._background.spawn(self._complete(att, Outcome(OutcomeKind.ABORTED, message="queued too long")))
                return
            att.launch = await self._launch_spec(att, spec)
            if spec.secrets:
                values = await self._secrets_for(att, spec)
                if values is None:
                    rec.attempt = att.number
                    self._background.spawn(self._complete(att, Outcome(OutcomeKind.LOST, message="missing secret")))
                    return
                att.launch = dataclasses.replace(att.launch, secrets=values)
            att.plugin = self.registry.get(att.launch.task_type)
            rec.attempt = att.number
            now = time.time()
            rec.started_at = rec.started_at or now
            rec.outputs_uri = att.launch.outputs_path
            rec.error = rec.error if rec.attempt > 1 else None
            rec.begin_attempt(att.number, now, att.launch.outputs_path, att.launch.log_dir)
            try:
                att.launch = dataclasses.replace(att.launch, resource=att.plugin.build(att.launch))
            except BuildError as exc:  # the spec can never run: fail the attempt with its message
                write_error(att.launch.outputs_path, exc.kind, str(exc))
                self._background.spawn(self._complete(att, Outcome(OutcomeKind.EXITED, 1, "build refused")))
                return
            att.launched_at = time.time()
            att.handle = await att.plugin.launch(att.launch, functools.partial(self._on_status, att))
        except Exception as exc:  # noqa: BLE001 - any failure to start is a system error of the attempt
            log.exception("could not launch %s", rec.key)
            rec.attempt = att.number
            rec.begin_attempt(att.number, time.time(), "", "")
            self._background.spawn(self._complete(att, Outcome(OutcomeKind.LOST, message=f"could not start the action: {exc}")))
            return
        if att.abort_reason:
            # Aborted (or timed out) while the resource was being created: stop it now.
            if att.done:
                self._background.spawn(att.plugin.abort(att.handle, att.launch, att.abort_reason))
            else:
                self._background.spawn(self._stop(att))
            return
        if att.done:
            return
        if rec.phase not in (pb.PHASE_INITIALIZING, pb.PHASE_RUNNING):
            rec.phase = pb.PHASE_INITIALIZING if getattr(att.plugin, "reports_progress", False) else pb.PHASE_RUNNING
        if rec.phase == pb.PHASE_RUNNING and not att.running_at:
            att.running_at = time.time()
        rec.handle = att.handle
        self.hub.record(att.entry, [rec])
        if att.launch.timeout:
            att.timer = asyncio.get_running_loop().call_later(att.launch.timeout, self._on_timeout, att)

    async def _secrets_for(self, att: Attempt, spec: pb.TaskSpec) -> tuple[SecretValue, ...] | None:
        """Exactly the secrets the task declares, opened now (a secret changed between attempts
        counts from the next one); None, with `att.failure` set, when one does not exist: the
        action fails before any of its code runs."""
        from flyte_jupyter._internal.runtime.secret_names import env_var_for, stored_name

        rec = att.rec
        names = [stored_name(s.key, s.group or None) for s in spec.secrets]
        values = await self.secrets(rec.project, rec.domain, names) if self.secrets is not None else {}
        missing = [n for n in dict.fromkeys(names) if n not in values]
        if missing:
            which = ", ".join(repr(n) for n in missing)
            att.failure = pb.ActionError(
                kind="SecretNotFoundError", origin="user", retryable=False,
                message=f"action {rec.name} (task {rec.task_name}) needs the secret{'s' if len(missing) > 1 else ''} "
                        f"{which}, not in {rec.project}/{rec.domain}; create it with `flyte-jupyter secrets create "
                        f"{missing[0]} --project {rec.project} --domain {rec.domain}` (the value is read from stdin)")
            return None
        return tuple(SecretValue(name, env_var_for(s.key, s.group or None, s.as_env_var or None), values[name], s.mount)
                     for s, name in zip(spec.secrets, names))

    def _on_status(self, att: Attempt, status: PluginStatus) -> None:
        if att.done:
            return
        if status.outcome is not None:
            self._background.spawn(self._complete(att, status.outcome))
        elif status.phase is not None:
            from flyte_jupyter._internal.wire.convert import phase_to_pb

            phase = phase_to_pb(status.phase)
            if phase == pb.PHASE_RUNNING and not att.running_at:
                att.running_at = time.time()
            if att.rec.phase != phase and not att.rec.terminal:
                att.rec.phase = phase
                if att.handle:  # before launch() returns, the launch records the phase itself
                    self.hub.record(att.entry, [att.rec])

    def _on_timeout(self, att: Attempt) -> None:
        if att.done or att.abort_reason:
            return
        att.abort_reason = "timeout"
        self._background.spawn(self._stop(att))

    async def _stop(self, att: Attempt) -> None:
        try:
            if att.plugin is not None and att.handle:
                await att.plugin.abort(att.handle, att.launch, att.abort_reason)
        finally:
            if not att.done:
                await self._complete(att, Outcome(OutcomeKind.ABORTED, message="stopped"))

    # -- ending an attempt ------------------------------------------------------------------------

    def _read_error(self, prefix: str) -> pb.ActionError | None:
        uri = _storage.join(prefix, "error.pb")
        try:
            data = _storage.get_bytes(uri)
        except (OSError, FileNotFoundError):
            return None
        except Exception:  # noqa: BLE001 - remote stores raise their own types
            return None
        err = pb.ActionError()
        try:
            err.ParseFromString(data)
        except Exception:  # noqa: BLE001
            return None
        return err

    def _error_for(self, att: Attempt, outcome: Outcome) -> tuple[pb.ActionError, int]:
        rec, launch = att.rec, att.launch
        if att.failure is not None:
            return att.failure, pb.PHASE_FAILED
        if att.abort_reason == "queued-timeout":
            return pb.ActionError(
                kind="TimeoutError", origin="system", retryable=False,
                message=f"action {rec.name} (task {rec.task_name}) waited in the queue longer than its "
                        "max_queued_time; raise Timeout(max_queued_time=...) or lower the load",
            ), pb.PHASE_TIMED_OUT
        if att.abort_reason == "timeout":
            if launch is None:  # the timeout timer is armed only once the attempt has launched
                raise RuntimeError(f"action {rec.name} timed out without a launch spec")
            return pb.ActionError(
                kind="TimeoutError", origin="user", retryable=True,
                message=f"action {rec.name} (task {rec.task_name}) ran longer than its timeout of "
                        f"{launch.timeout:g} s and was killed; raise Timeout(max_runtime=...) or make it faster",
            ), pb.PHASE_TIMED_OUT
        if outcome.kind is OutcomeKind.OOM:
            return pb.ActionError(
                kind="OOMKilled", origin="user", retryable=True,
                message=outcome.message or oom_message(rec.name, rec.task_name, launch.memory_text if launch else None),
            ), pb.PHASE_FAILED
        if outcome.kind is OutcomeKind.EXITED and att.launch is not None:
            err = self._read_error(att.launch.outputs_path)
            if err is not None:
                return err, pb.PHASE_FAILED
            code = outcome.exit_code
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            return pb.ActionError(kind="ProcessError", origin="system", retryable=True,
                                  message=f"the action's process {how} without reporting an error. {outcome.message}".strip()), pb.PHASE_FAILED
        return pb.ActionError(kind="ActionLost", origin="system", retryable=True,
                              message=outcome.message or "the action's process was lost (killed from outside, or the "
                                                         "backend restarted while it ran)"), pb.PHASE_FAILED

    def _committed(self, att: Attempt) -> bool:
        """An attempt that did not end well by its own account (killed, lost, timed out) but whose
        outputs.pb is in place had finished: it succeeded, as a restart's recovery decides from
        the same file (`_recorded_end`), so a SIGKILL between writing its result and exiting is
        never retried. An abort stays an abort."""
        if att.launch is None or att.failure is not None or att.abort_reason not in ("", "timeout"):
            return False
        try:
            return _storage.exists(_storage.join(att.launch.outputs_path, "outputs.pb"))
        except Exception:  # noqa: BLE001 - remote stores raise their own types; then it did not finish
            log.exception("reading the result of %s", att.launch.outputs_path)
            return False

    async def _complete(self, att: Attempt, outcome: Outcome) -> None:
        if att.done:
            return
        att.done = True
        if att.timer is not None:
            att.timer.cancel()
        if self.attempts.get(att.rec.key) is att:
            del self.attempts[att.rec.key]
        self._release(att)
        self._pump()
        rec, entry = att.rec, att.entry
        if rec.terminal:
            return
        error: pb.ActionError | None
        phase: int
        if att.abort_reason == "abort":
            phase = pb.PHASE_ABORTED
            error = pb.ActionError(kind="Aborted", message="the action was aborted", retryable=False, origin="user")
        elif outcome.succeeded or self._committed(att):
            phase, error = pb.PHASE_SUCCEEDED, None
        else:
            error, phase = self._error_for(att, outcome)
            if error.retryable and rec.attempt < rec.max_attempts:
                spec = await self.catalog.get(rec.task_key)
                _record_usage(att, outcome, pb.PHASE_FAILED if phase == pb.PHASE_FAILED else phase)
                rec.error = error
                rec.handle = ""
                rec.phase = pb.PHASE_QUEUED
                now, wait = time.time(), _backoff(spec, rec.attempt)
                rec.not_before = now + wait
                rec.end_attempt(phase, error, now, wait)
                self.hub.record(entry, [rec])
                self.schedule(entry, rec)
                return
        # Its children still alive end first (aborted, as in Flyte), so an end is recorded only
        # once everything below it has ended: a crash in between leaves no run recorded as ended
        # with actions still running under it (the restart sees this action's result and ends it).
        await self._end_descendants(entry, rec)
        if rec.terminal:  # aborted meanwhile
            return
        _record_usage(att, outcome, phase)
        now = time.time()
        rec.phase = phase
        rec.error = error
        rec.ended_at = now
        rec.handle = ""
        fut = self.hub.record(entry, [rec])
        if phase == pb.PHASE_SUCCEEDED:
            spec = await self.catalog.get(rec.task_key)
            key = cache_key(rec, spec) if spec is not None else None
            if key is not None:
                await self.cache.put(CacheRecord(*key, rec.outputs_uri, now, rec.run, rec.name))
            self._serialized_done(rec, spec)
            await fut
        await self._after_terminal(entry, rec)

    def _live_descendants(self, entry: RunEntry, rec: ActionRecord) -> list[ActionRecord]:
        if rec.name == "a0":
            return [a for a in entry.actions.values() if not a.terminal and a.name != "a0"]
        return [a for a in entry.descendants(rec.name) if not a.terminal]

    async def _end_descendants(self, entry: RunEntry, rec: ActionRecord) -> None:
        live = self._live_descendants(entry, rec)
        if live:
            await self.abort_actions(entry, live)

    async def _after_terminal(self, entry: RunEntry, rec: ActionRecord) -> None:
        """Children still alive when their parent ends are aborted (as in Flyte)."""
        if self._inflight and rec.phase != pb.PHASE_SUCCEEDED:
            self._serialized_done(rec, await self.catalog.get(rec.task_key))
        live = self._live_descendants(entry, rec)
        if live:
            await self.abort_actions(entry, live)

    # -- aborting ---------------------------------------------------------------------------------

    async def abort_actions(self, entry: RunEntry, recs: list[ActionRecord], reason: str = "aborted") -> None:
        """Abort these actions: queued ones end at once, running ones after their process is gone."""
        queued, stops = [], []
        now = time.time()
        for rec in recs:
            if rec.terminal:
                continue
            att = self.attempts.get(rec.key)
            if att is None:
                rec.phase = pb.PHASE_ABORTED
                rec.ended_at = now
                rec.error = pb.ActionError(kind="Aborted", message=reason, retryable=False, origin="user")
                queued.append(rec)
            elif not att.done:
                att.abort_reason = "abort"
                stops.append(self._stop(att))
        if queued:
            self.hub.record(entry, queued)
            if self._inflight:
                for rec in queued:
                    self._serialized_done(rec, await self.catalog.get(rec.task_key))
        if stops:
            await asyncio.gather(*stops, return_exceptions=True)

    async def abort_run(self, entry: RunEntry, reason: str) -> None:
        live = [a for a in entry.actions.values() if not a.terminal]
        await self.abort_actions(entry, live, reason)

    # -- recovery ---------------------------------------------------------------------------------

    async def recover(self, entries: list[RunEntry]) -> None:
        """After a restart, every unfinished action of every unfinished run, in creation order:

        - an attempt that left its result in storage (``outputs.pb``, or ``error.pb`` for a
          failure it reported) ended while the backend was down: it is collected as it ended
          (succeeded, or failed and retried by its policy), never launched again;
        - else an attempt whose process still runs is reattached;
        - else a running attempt is lost (retried or failed by its policy), and a queued action is
          queued again.
        The crash may have come between starting an attempt and recording it (its handle, or the
        retry that preceded it): the plugin is asked for the attempts after the recorded one
        (`locate`), so none of them starts twice. Then the plugins kill what no action claimed."""
        await self.adopt(entries)
        for plugin in self.registry.plugins():
            try:
                await plugin.recovered()
            except Exception:  # noqa: BLE001
                log.exception("plugin %s: cleaning up after recovery failed", plugin.name)

    async def adopt(self, entries: list[RunEntry]) -> None:
        """Recover these runs' unfinished actions (see `recover`), without the plugins' clean-up: a
        replica taking over runs of a dead one while driving its own. Nothing queued is admitted
        until every attempt still running has been counted against the capacity."""
        self._recovering += 1
        try:
            await self._adopt(entries)
        finally:
            self._recovering -= 1
            self._pump()

    async def _adopt(self, entries: list[RunEntry]) -> None:
        for entry in entries:
            for rec in sorted(entry.actions.values(), key=lambda a: a.seq):
                if rec.terminal:
                    continue
                try:
                    await self._recover_action(entry, rec)
                except Exception as exc:  # noqa: BLE001 - one broken record must not stop the others
                    log.exception("recovering %s failed", rec.key)
                    if rec.key not in self.attempts and not rec.terminal:
                        att = Attempt(entry, rec, max(rec.attempt, 1))
                        self.attempts[rec.key] = att
                        self._hold(att)
                        await self._complete(att, Outcome(OutcomeKind.LOST, message=f"could not recover the action: {exc}"))
            # A parent that ended before the crash took its children with it (as in Flyte).
            orphans = [a for a in entry.actions.values() if not a.terminal and a.parent
                       and entry.actions.get(a.parent) is not None and entry.actions[a.parent].terminal]
            if orphans:
                await self.abort_actions(entry, orphans, "its parent ended")

    async def _recover_action(self, entry: RunEntry, rec: ActionRecord) -> None:
        running = rec.phase in LIVE_RUNNING
        spec = await self.catalog.get(rec.task_key)
        if spec is None:
            if not running:
                self.schedule(entry, rec)  # its launch reports the missing task
                return
            att = Attempt(entry, rec, max(rec.attempt, 1))
            self.attempts[rec.key] = att
            self._hold(att)
            await self._complete(att, Outcome(OutcomeKind.LOST, message=f"task {rec.task_name} is not registered"))
            return
        plugin = self.registry.get(spec.type or "python")
        number, handle = (rec.attempt, rec.handle) if running else (0, "")
        launch: LaunchSpec | None = await self._built_spec(plugin, Attempt(entry, rec, number), spec) if number else None
        # Attempts after the recorded one, started by a backend that died before recording them.
        probe = rec.attempt + 1
        while probe <= max(rec.max_attempts, 1):
            later = await self._built_spec(plugin, Attempt(entry, rec, probe), spec)
            found = await plugin.locate(later)
            if found is None:
                if self._recorded_end(later.outputs_path) is None:
                    break
                found = ""  # it ran and ended where the plugin cannot see (another replica): its result is stored
            number, handle, launch = probe, found, later
            probe += 1
        if not number or launch is None:
            self.schedule(entry, rec)  # queued, and its next attempt never started
            return
        att = Attempt(entry, rec, number, launch=launch, plugin=plugin)
        self.attempts[rec.key] = att
        self._hold(att)
        unrecorded = number != rec.attempt or not running
        if rec.attempts and rec.attempts[-1].attempt != number:
            rec.end_attempt(pb.PHASE_FAILED, None, time.time())  # a later attempt ran: this one ended
        rec.attempt = number
        rec.outputs_uri = launch.outputs_path
        rec.started_at = rec.started_at or time.time()
        rec.begin_attempt(number, time.time(), launch.outputs_path, launch.log_dir)
        ended = self._recorded_end(launch.outputs_path)
        alive = False
        if ended is None and handle:
            att.handle = handle
            try:
                alive = await plugin.recover(launch, handle, functools.partial(self._on_status, att))
            except Exception:  # noqa: BLE001
                log.exception("recovering %s failed", rec.key)
            if not alive:  # it may have ended between our look at storage and the plugin's
                ended = self._recorded_end(launch.outputs_path)
        if not alive:
            await self._complete(att, ended or Outcome(OutcomeKind.LOST))
            return
        if att.done:  # it ended as soon as it was reattached
            return
        if unrecorded or rec.handle != handle:
            rec.phase = rec.phase if rec.phase in LIVE_RUNNING else pb.PHASE_RUNNING
            rec.handle = handle
            self.hub.record(entry, [rec])
        if entry.children.get(rec.name):
            self._release(att)
        if launch.timeout:
            left = max(0.0, rec.started_at + launch.timeout - time.time()) if not unrecorded else launch.timeout
            att.timer = asyncio.get_running_loop().call_later(left, self._on_timeout, att)

    async def _built_spec(self, plugin: Any, att: Attempt, spec: pb.TaskSpec) -> LaunchSpec:
        """An attempt's launch spec with its plugin's build (recovery: a refused build has none)."""
        launch = await self._launch_spec(att, spec)
        try:
            return dataclasses.replace(launch, resource=plugin.build(launch))
        except BuildError:
            return launch

    def _recorded_end(self, prefix: str) -> Outcome | None:
        """How an attempt ended, from what it left in storage: outputs.pb (succeeded) or error.pb
        (a failure it reported; `_error_for` reads it), or None when it left neither."""
        try:
            if _storage.exists(_storage.join(prefix, "outputs.pb")):
                return Outcome(OutcomeKind.EXITED, 0, "ended while the backend was away")
            if _storage.exists(_storage.join(prefix, "error.pb")):
                return Outcome(OutcomeKind.EXITED, 1, "ended while the backend was away")
        except Exception:  # noqa: BLE001 - remote stores raise their own types
            log.exception("reading the result of %s", prefix)
        return None


_UNBOUNDED_MEMORY = 1 << 62  # a machine whose memory size could not be read: memory is not counted


def _record_usage(att: Attempt, outcome: Outcome, phase: int) -> None:
    """Keep the ended attempt's times and cost on its action (the timeline and the details view
    read them): queued from when it became due (the action's queue time, or the previous attempt's
    end), starting from its launch, running from when it was seen RUNNING."""
    rec = att.rec
    if not att.number or any(u.attempt == att.number for u in rec.usage):
        return
    due = rec.usage[-1].ended_at if rec.usage else rec.queued_at
    started = att.launched_at or rec.started_at
    usage = pb.AttemptUsage(attempt=att.number, queued_at=due, started_at=started,
                            running_at=att.running_at or started, ended_at=time.time())
    usage.phase = phase  # type: ignore[assignment]
    if outcome.cpu_seconds is not None or outcome.peak_memory_bytes is not None:
        usage.has_usage = True
        usage.cpu_seconds = outcome.cpu_seconds or 0.0
        usage.peak_memory_bytes = outcome.peak_memory_bytes or 0
    rec.usage.append(usage)


def _backoff(spec: pb.TaskSpec | None, attempt: int) -> float:
    if spec is None or not spec.retries.backoff_seconds:
        return 0.0
    r = spec.retries
    return min(r.backoff_seconds * (r.backoff_factor or 2.0) ** (attempt - 1), r.max_backoff_seconds or 300.0)
