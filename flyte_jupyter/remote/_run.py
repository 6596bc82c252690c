"""`RemoteRun`: a run on a backend, with the same surface as a local run.

It keeps a live RunState through one watch stream (on the backend-call loop), so widgets and
`wait()` work exactly as for a local run. Flyte 2's `flyte.remote.Run` is this class:
`Run.get(name)` finds a run by name, `Run.listall(...)` lists runs (newest first), and a run has
`wait()`, `outputs()`, `inputs()`, `abort()`, `action` (the root `Action`), `get_logs()` and
`show_logs()`. A run found by `get` or `listall` starts following its changes only when asked
for something live (wait, outputs, the action tree), so listing a hundred runs opens no streams.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from flyte_jupyter._internal.client.calls import background_loop, call
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.runs.base import Run
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.models import ActionInfo, Phase, deployed_of
from flyte_jupyter.errors import ActionAbortedError, ActionNotFoundError, BackendError, action_failure
from flyte_jupyter.remote._common import client_for, syncified_classmethod


def _deepest_failure(actions: dict[str, Any]) -> Any:
    def depth(name: str) -> int:
        d, seen = 0, set()
        while name in actions and actions[name].parent and name not in seen:
            seen.add(name)
            name = actions[name].parent
            d += 1
        return d

    failed = [a for a in actions.values() if a.phase in (Phase.FAILED, Phase.TIMED_OUT) and a.error is not None]
    if not failed:
        return actions.get(ROOT_ACTION)
    return max(failed, key=lambda a: (depth(a.name), a.ended_at or 0))


class RemoteRun(Run):
    """A run on a backend: same surface as a local Run (name, url, phase, wait, watch, outputs,
    abort, show_logs, the actions tree)."""

    mode = "remote"

    def __init__(self, name: str, task: Any, client: BackendClient, project: str, domain: str, url: str,
                 *, follow: bool = True, summary: Any = None) -> None:
        super().__init__(name, task, RunState(name))
        self.client = client
        self.project = project
        self.domain = domain
        self._url = url
        self._summary = summary  # a RunSummary, for runs found by get/listall until they follow
        self._latest: dict[str, Any] = {}
        self._synced = threading.Event()
        self._follow_error: BaseException | None = None
        self._follower: Any = None
        self._follow_lock = threading.Lock()
        if follow:
            self._start_following()

    def _start_following(self) -> Any:
        with self._follow_lock:
            if self._follower is None:
                self._follower = asyncio.run_coroutine_threadsafe(self._follow(), background_loop())
            return self._follower

    @property
    def url(self) -> str:
        return self._url

    @property
    def deployed(self) -> str | None:
        """"task NAME version V in P/D" when this is a run of a deployed task, else None."""
        task = self.task
        if getattr(task, "_deployed", False) and getattr(task, "_details", None) is not None:
            d = task._details.id
            return f"task {d.name} version {d.version} in {d.project}/{d.domain}"
        summary = self._summary
        return deployed_of(summary.labels, self.project, self.domain) if summary is not None else None

    # -- finding runs (Flyte 2's flyte.remote.Run.get / listall) ---------------------------------

    @syncified_classmethod
    async def get(cls: Any, name: str, project: str | None = None, domain: str | None = None) -> "RemoteRun":
        """The run called `name` on the configured backend (in its project and domain); raises
        `flyte.errors.ActionNotFoundError` if there is none."""
        client = client_for()
        try:
            summary, _ = await acall_(lambda: client.get_run(name, project=project, domain=domain))
        except BackendError as exc:
            if exc.code == "NOT_FOUND":
                raise ActionNotFoundError(f"run {name!r} does not exist on {client.endpoint}") from None
            raise
        return cls(summary.name, None, client, summary.project, summary.domain, summary.url, follow=False,
                   summary=summary)

    @syncified_classmethod
    async def listall(cls: Any, in_phase: Any = None, task_name: str | None = None, task_version: str | None = None,
                      created_by_subject: str | None = None, sort_by: Any = None, limit: int = 100,
                      project: str | None = None, domain: str | None = None, **_filters: Any) -> list["RemoteRun"]:
        """Runs of the project and domain, newest first (at most `limit`), optionally only those in
        one of the phases `in_phase` (names or `flyte.Phase`) or of task `task_name`. The other
        filters of Flyte's signature are accepted and ignored. The sync form returns an iterator."""
        client = client_for()
        phases = None
        if in_phase is not None:
            items = (in_phase,) if isinstance(in_phase, (str, Phase)) else tuple(in_phase)
            phases = {Phase(str(getattr(p, "value", p)).upper()) for p in items}
        summaries = await acall_(lambda: client.list_runs(limit=max(limit, 1) if not (phases or task_name)
                                                          else max(limit, 1000), project=project, domain=domain))
        out = []
        for summary in summaries:
            if phases is not None and summary.phase not in phases:
                continue
            if task_name and summary.task != task_name:
                continue
            out.append(cls(summary.name, None, client, summary.project, summary.domain, summary.url,
                           follow=False, summary=summary))
            if len(out) >= limit:
                break
        return out

    # -- what a run found by name shows before it follows ------------------------------------------

    @property
    def phase(self) -> Phase:
        if self._follower is None and self._summary is not None:
            return self._summary.phase
        return super().phase

    @property
    def error(self) -> Any:
        if self._follower is None and self._summary is not None:
            return self._summary.error
        return super().error

    @property
    def action(self) -> Any:
        """The root action `a0`, as a `flyte.remote.Action`."""
        from flyte_jupyter.remote._action import Action

        return Action(self.client, self.name, ROOT_ACTION, self.project, self.domain, task=self.task)

    def inputs(self) -> dict[str, Any]:
        """The root action's inputs, as Python values."""
        return self.action.inputs()

    def get_logs(self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False) -> Any:
        """The root action's printed lines (latest attempt by default), as an iterator."""
        return iter(self.logs(ROOT_ACTION, attempt or 0))

    async def _follow(self) -> None:
        from flyte_jupyter._internal.wire.convert import action_event

        try:
            async for batch in self.client.watch_raw(self.name, project=self.project, domain=self.domain):
                for action in batch.actions:
                    self._latest[action.id.name] = action
                    self.state.apply(action_event(action))
                if batch.synced:
                    self._synced.set()
                root = self._latest.get(ROOT_ACTION)
                if root is not None and self._synced.is_set() and _all_terminal(self._latest):
                    return
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait()/outputs()
            self._follow_error = exc
        finally:
            self._synced.set()
            self.state.wake()  # a wait() sees the end of the feed (or its error) at once

    def wait(self, timeout: float | None = None, quiet: bool = True, wait_for: str = "terminal") -> "RemoteRun":
        """Block until the run ends (or `timeout` seconds pass); `quiet=False` prints progress;
        `wait_for="running"` returns once the root runs (or has ended)."""
        follower = self._start_following()
        if wait_for == "running":
            return self._wait_running(timeout)
        if not quiet:
            super().wait(timeout, quiet)  # prints while it calls back into this method
            return self
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seen = self.state.root_version
            if self.done:
                break
            if follower.done():
                if self._follow_error is not None:
                    raise self._follow_error
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_root_change(0.25 if left is None else min(left, 0.25), seen)
        # The root has ended; children it took down end a moment later: let the tree settle.
        try:
            follower.result(timeout=10 if deadline is None else max(0.0, min(10, deadline - time.monotonic())))
        except Exception:  # noqa: BLE001 - a tree still settling is not an error of wait()
            pass
        return self

    def _wait_running(self, timeout: float | None) -> "RemoteRun":
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.phase in (Phase.QUEUED, Phase.INITIALIZING):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_root_change(0.25 if left is None else min(left, 0.25))
        return self

    def watch(self, callback: Any) -> Any:
        self._start_following()
        return super().watch(callback)

    @property
    def actions(self) -> dict[str, ActionInfo]:
        if self._follower is None:  # a run found by name: follow it, and wait for the first snapshot
            self._start_following()
            self._synced.wait(30)
        return self.state.actions

    async def wait_aio(self, timeout: float | None = None) -> "RemoteRun":
        """`await run.wait_aio()` from async code without blocking the loop."""
        await asyncio.get_running_loop().run_in_executor(None, lambda: self.wait(timeout))
        return self

    def outputs(self) -> Any:
        """The root task's outputs; raises the failure (an ActionFailedError naming the deepest
        failed action, ActionAbortedError for an aborted run) as Flyte does."""
        self.wait()
        root = self._latest.get(ROOT_ACTION)
        if root is None:
            raise RuntimeError(f"run {self.name} has no root action")
        from flyte_jupyter._internal.wire.proto import common_pb2 as pb

        if root.phase in (pb.PHASE_SUCCEEDED, pb.PHASE_RECOVERED):
            from flyte_jupyter._internal.runtime import storage as _storage
            from flyte_jupyter._internal.runtime.spec import decode_output

            data = _storage.get_bytes(_storage.join(root.outputs_uri, "outputs.pb"))
            return decode_output(self.task, data)
        if root.phase == pb.PHASE_ABORTED:
            reason = root.error.message if root.HasField("error") and root.error.message else "aborted"
            raise ActionAbortedError(f"run {self.name} was aborted: {reason}", action=ROOT_ACTION,
                                     task=self.task.name if self.task is not None else root.task_name)
        info = _deepest_failure(self.state.actions)
        err = info.error if info is not None else None
        raise action_failure(
            action=info.name if info else ROOT_ACTION, task=info.task if info else "",
            kind=err.kind if err else self.phase.value, message=err.message if err else f"run {self.phase.value}",
            attempts=info.attempts if info else 1,
            max_attempts=self._latest[info.name].max_attempts if info and info.name in self._latest else 1,
            traceback=err.traceback if err else "", phase=info.phase.value if info else self.phase.value,
            origin=err.origin if err else "user",
        )

    def abort(self, reason: str = "aborted by user") -> None:
        """Abort the run: every live action stops and ends ABORTED."""
        call(lambda: self.client.abort_run(self.name, reason, project=self.project, domain=self.domain), 60)

    def logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> list[str]:
        """The lines `action` printed (latest attempt by default)."""
        async def collect() -> list[str]:
            return [line.text async for line in self.client.tail_logs(
                self.name, action, attempt, project=self.project, domain=self.domain)]

        return call(collect, 60)

    def show_logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> str:
        """The action's output (latest attempt by default), printed and returned."""
        text = "\n".join(self.logs(action, attempt))
        print(text)
        return text

    def __repr__(self) -> str:
        return f"<RemoteRun {self.name} {self.phase.value} {self._url}>"


async def acall_(make: Any) -> Any:
    from flyte_jupyter._internal.client.calls import acall

    return await acall(make)


def _all_terminal(actions: dict[str, Any]) -> bool:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    done = {pb.PHASE_SUCCEEDED, pb.PHASE_RECOVERED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}
    return all(a.phase in done for a in actions.values())
