"""One attempt's container from start to removal: run, watch, stop, find again, clean up.

Every container is named after its attempt (``fj-<instance>-<hash of project/domain/run/action/
attempt>``) and labelled with the backend instance (a hash of its data directory), the run, the
action and the attempt. The name makes a launch idempotent (the engine refuses a second one) and
lets `recover`/`locate` find an attempt after a backend restart; the instance label lets the next
start remove what a SIGKILLed backend left (`sweep`).

While it runs, ``docker logs -f`` copies its output into the attempt's log files (what `logs`
reads, during the attempt and after), and ``docker wait`` waits for its end. Then `docker inspect`
says how it ended (``State.OOMKilled``, ``State.ExitCode``), the plugin's ``finish`` turns that
into an Outcome (collecting a raw container's outputs first), and the container is removed.
Abort is ``docker stop`` (SIGTERM, SIGKILL after the grace period).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
from typing import Any, Awaitable, Callable

from flyte_jupyter._internal.wire.models import Phase
from flyte_jupyter.backend.executor.plugin import (
    LaunchSpec,
    Outcome,
    OutcomeKind,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.docker.engine import DockerEngine
from flyte_jupyter.backend.plugins.logfiles import log_files, tail_lines

log = logging.getLogger("flyte_jupyter.backend")

LABEL = "org.flyte-jupyter"
L_INSTANCE = f"{LABEL}.instance"
L_RUN = f"{LABEL}.run"
L_ACTION = f"{LABEL}.action"
L_ATTEMPT = f"{LABEL}.attempt"
L_PROJECT = f"{LABEL}.project"
L_DOMAIN = f"{LABEL}.domain"
L_PLUGIN = f"{LABEL}.plugin"
_LOG_DRAIN_S = 5.0
_TAIL_LINES = 20

#: (spec, container state from `docker inspect`, aborted?) -> how the attempt ended
Finisher = Callable[[LaunchSpec, dict[str, Any], bool], Awaitable[Outcome]]


def instance_of(data_dir: str) -> str:
    """The label value shared by every container of one backend data directory."""
    return hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:12]


def container_name(instance: str, spec: LaunchSpec) -> str:
    key = "\0".join((spec.project, spec.domain, spec.run_name, spec.action_name, str(spec.attempt)))
    return f"fj-{instance}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def labels(instance: str, spec: LaunchSpec) -> dict[str, str]:
    return {L_INSTANCE: instance, L_RUN: spec.run_name, L_ACTION: spec.action_name, L_ATTEMPT: str(spec.attempt),
            L_PROJECT: spec.project, L_DOMAIN: spec.domain}


def exited_outcome(state: dict[str, Any], spec: LaunchSpec, aborted: bool) -> Outcome:
    """How a container ended, from its inspected ``State``; a failure carries its log tail."""
    if aborted:
        return Outcome(OutcomeKind.ABORTED, message="the container was stopped")
    if state.get("OOMKilled"):
        limit = f" of {spec.memory_text}" if spec.memory_text else ""
        return Outcome(OutcomeKind.OOM, exit_code=state.get("ExitCode"),
                       message=f"action {spec.action_name} (task {spec.task_name}) was killed: OOM, its container used "
                               f"more memory than its limit{limit}; raise Resources(memory=...) or use less memory")
    code = int(state.get("ExitCode", -1))
    if code == 0:
        return Outcome(OutcomeKind.EXITED, exit_code=0)
    tail = "\n".join(tail_lines(spec, _TAIL_LINES))
    error = state.get("Error") or ""
    return Outcome(OutcomeKind.EXITED, exit_code=code,
                   message=(f"{error}\n" if error else "") + (f"last lines of its output:\n{tail}" if tail else ""))


@dataclasses.dataclass
class _Watched:
    spec: LaunchSpec
    on_status: StatusCallback
    aborted: bool = False
    task: asyncio.Task | None = None
    helpers: list = dataclasses.field(default_factory=list)


class Containers:
    """The containers of one plugin (see the module docstring)."""

    def __init__(self, engine: DockerEngine, instance: str, plugin: str, finish: Finisher,
                 stop_grace: float = 5.0) -> None:
        self.engine = engine
        self.instance = instance
        self.plugin = plugin  # each plugin sweeps only its own containers
        self.finish = finish
        self.stop_grace = stop_grace
        self._watched: dict[str, _Watched] = {}

    def name(self, spec: LaunchSpec) -> str:
        return container_name(self.instance, spec)

    async def start(self, spec: LaunchSpec, on_status: StatusCallback, run_args: list[str],
                    env: dict[str, str]) -> str:
        """`docker run -d` with ``run_args`` (everything after the labels and the name); ``env`` is
        passed by name (`-e NAME`) so no value shows on a command line."""
        name = self.name(spec)
        argv = ["run", "-d", "--name", name]
        for key, value in {**labels(self.instance, spec), L_PLUGIN: self.plugin}.items():
            argv += ["--label", f"{key}={value}"]
        for key in sorted(env):
            argv += ["-e", key]
        await self.engine.run(*argv, *run_args, env=env, timeout=600.0)  # may pull the image
        self._watch(name, spec, on_status)
        on_status(PluginStatus(phase=Phase.RUNNING))
        return name

    def _watch(self, name: str, spec: LaunchSpec, on_status: StatusCallback) -> None:
        watched = _Watched(spec, on_status)
        self._watched[name] = watched
        watched.task = asyncio.ensure_future(self._follow(name, watched))

    async def _follow(self, name: str, watched: _Watched) -> None:
        spec = watched.spec
        outcome: Outcome
        try:
            stdout_path, stderr_path = log_files(spec)
            os.makedirs(os.path.dirname(stdout_path), exist_ok=True)
            with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:  # the whole log, again after a restart
                logs = await self.engine.spawn("logs", "-f", name, stdout=out, stderr=err)
            watched.helpers.append(logs)
            waiter = await self.engine.spawn("wait", name, stdout=asyncio.subprocess.DEVNULL,
                                             stderr=asyncio.subprocess.DEVNULL)
            watched.helpers.append(waiter)
            await waiter.wait()
            try:
                await asyncio.wait_for(logs.wait(), _LOG_DRAIN_S)
            except asyncio.TimeoutError:
                logs.kill()
            info = await self.engine.inspect(name)
            if info is None:
                outcome = Outcome(OutcomeKind.LOST, message=f"the container {name} was removed from outside")
            else:
                outcome = await self.finish(spec, info.get("State") or {}, watched.aborted)
                await self.engine.remove(name)
        except asyncio.CancelledError:
            for helper in watched.helpers:
                if helper.returncode is None:
                    helper.kill()
            raise
        except Exception as exc:  # noqa: BLE001 - the engine went away mid-attempt
            log.exception("watching container %s failed", name)
            outcome = Outcome(OutcomeKind.LOST, message=f"lost the container {name}: {exc}")
        self._watched.pop(name, None)
        watched.on_status(PluginStatus(outcome=outcome))

    def is_live(self, name: str | None) -> bool:
        return bool(name) and name in self._watched

    async def abort(self, name: str) -> None:
        watched = self._watched.get(name)
        if watched is not None:
            watched.aborted = True
        await self.engine.run("stop", "-t", str(int(self.stop_grace)), name, check=False,
                              timeout=self.stop_grace + 30)
        if watched is None:
            await self.engine.remove(name)
            return
        if watched.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(watched.task), 30)
            except asyncio.TimeoutError:
                await self.engine.run("kill", name, check=False)

    async def recover(self, spec: LaunchSpec, name: str, on_status: StatusCallback) -> bool:
        """Reattach to the attempt's container (running, or ended while the backend was down)."""
        if name != self.name(spec):
            return False
        info = await self.engine.inspect(name)
        if info is None:
            return False
        self._watch(name, spec, on_status)
        return True

    async def locate(self, spec: LaunchSpec) -> str | None:
        name = self.name(spec)
        return name if await self.engine.inspect(name) is not None else None

    async def sweep(self) -> None:
        """Remove this instance's containers nobody reattached to (left by a backend that died)."""
        for name in await self.engine.names_with_label(f"{L_INSTANCE}={self.instance}", f"{L_PLUGIN}={self.plugin}"):
            if name not in self._watched:
                log.warning("removing container %s left by an earlier backend", name)
                await self.engine.remove(name)

    async def close(self) -> None:
        """Stop watching (the containers run on; the next start reattaches to them)."""
        for watched in list(self._watched.values()):
            if watched.task is not None:
                watched.task.cancel()
        for watched in list(self._watched.values()):
            if watched.task is not None:
                try:
                    await watched.task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        self._watched.clear()

    def count(self) -> int:
        return len(self._watched)
