"""`RemoteRun`: a run on a backend, with the same surface as a local run.

It keeps a live RunState through one watch stream (on the backend-call loop), so widgets and
`wait()` work exactly as for a local run.
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
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter.errors import ActionFailedError


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

    def __init__(self, name: str, task: Any, client: BackendClient, project: str, domain: str, url: str) -> None:
        super().__init__(name, task, RunState(name))
        self.client = client
        self.project = project
        self.domain = domain
        self._url = url
        self._latest: dict[str, Any] = {}
        self._synced = threading.Event()
        self._follow_error: BaseException | None = None
        self._follower = asyncio.run_coroutine_threadsafe(self._follow(), background_loop())

    @property
    def url(self) -> str:
        return self._url

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
            self.state.wait_for_change(0)
        finally:
            self._synced.set()

    def wait(self, timeout: float | None = None, quiet: bool = True) -> "RemoteRun":
        """Block until the run ends (or `timeout` seconds pass); `quiet=False` prints progress."""
        if not quiet:
            super().wait(timeout, quiet)  # prints while it calls back into this method
            return self
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if self._follower.done():
                if self._follow_error is not None:
                    raise self._follow_error
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_change(0.25 if left is None else min(left, 0.25))
        # The root has ended; children it took down end a moment later: let the tree settle.
        try:
            self._follower.result(timeout=10 if deadline is None else max(0.0, min(10, deadline - time.monotonic())))
        except Exception:  # noqa: BLE001 - a tree still settling is not an error of wait()
            pass
        return self

    async def wait_aio(self, timeout: float | None = None) -> "RemoteRun":
        """`await run.wait_aio()` from async code without blocking the loop."""
        await asyncio.get_running_loop().run_in_executor(None, lambda: self.wait(timeout))
        return self

    def outputs(self) -> Any:
        """The root task's outputs; raises ActionFailedError naming the deepest failed action."""
        self.wait()
        root = self._latest.get(ROOT_ACTION)
        if root is None:
            raise RuntimeError(f"run {self.name} has no root action")
        from flyte_jupyter._internal.wire.proto import common_pb2 as pb

        if root.phase == pb.PHASE_SUCCEEDED:
            from flyte_jupyter._internal.runtime import storage as _storage
            from flyte_jupyter._internal.runtime.spec import decode_output

            data = _storage.get_bytes(_storage.join(root.outputs_uri, "outputs.pb"))
            return decode_output(self.task, data)
        info = _deepest_failure(self.state.actions)
        err = info.error if info is not None else None
        raise ActionFailedError(
            action=info.name if info else ROOT_ACTION, task=info.task if info else "",
            kind=err.kind if err else self.phase.value, message=err.message if err else f"run {self.phase.value}",
            attempts=info.attempts if info else 1, max_attempts=self._latest[info.name].max_attempts if info and info.name in self._latest else 1,
            traceback=err.traceback if err else "", phase=info.phase.value if info else self.phase.value,
        )

    def abort(self, reason: str = "aborted by user") -> None:
        """Abort the run: every live action stops and ends ABORTED."""
        call(lambda: self.client.abort_run(self.name, reason, project=self.project, domain=self.domain), 60)

    def logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> list[str]:
        async def collect() -> list[str]:
            return [line.text async for line in self.client.tail_logs(
                self.name, action, attempt, project=self.project, domain=self.domain)]

        return call(collect, 60)

    def show_logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> str:
        """The action's output (latest attempt by default), printed and returned."""
        text = "\n".join(self.logs(action, attempt))
        print(text)
        return text

    @property
    def actions(self) -> dict[str, ActionInfo]:
        return self.state.actions

    def __repr__(self) -> str:
        return f"<RemoteRun {self.name} {self.phase.value} {self._url}>"


def _all_terminal(actions: dict[str, Any]) -> bool:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    done = {pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}
    return all(a.phase in done for a in actions.values())
