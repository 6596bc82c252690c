"""`flyte.remote.Action`: one action of a run on a backend (Flyte 2's name and surface).

`Action.get(run_name=..., name=...)` and `Action.listall(for_run_name, in_phase=..., parent_name=...)`
find actions; an action has `name`, `run_name`, `task_name`, `parent_name`, `phase`, `attempts`,
`error`, and `wait()`, `done()`, `outputs()`, `inputs()`, `get_logs()`, `show_logs()`, `abort()`.
"""

from __future__ import annotations

import time
from typing import Any

from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter.errors import ActionNotFoundError, BackendError, action_failure
from flyte_jupyter.remote._common import client_for, syncified_classmethod


def _call(make: Any, timeout: float | None = 60) -> Any:
    from flyte_jupyter._internal.client.calls import call

    return call(make, timeout)


async def _acall(make: Any) -> Any:
    from flyte_jupyter._internal.client.calls import acall

    return await acall(make)


class Action:
    """One action of a run on a backend. Its state is read when asked (`sync()` refreshes it)."""

    def __init__(self, client: Any, run_name: str, name: str = ROOT_ACTION, project: str | None = None,
                 domain: str | None = None, *, task: Any = None, detail: Any = None) -> None:
        self.client = client
        self.run_name = run_name
        self.name = name
        self.project = project or client.project
        self.domain = domain or client.domain
        self.task = task  # the TaskTemplate when known: typed inputs and outputs
        self._detail = detail

    # -- finding actions ----------------------------------------------------------------------------

    @syncified_classmethod
    async def get(cls: Any, uri: str | None = None, /, run_name: str | None = None, name: str | None = None,
                  project: str | None = None, domain: str | None = None) -> "Action":
        """The action `name` (default the root, a0) of run `run_name`; `uri` may be "RUN/ACTION"."""
        if uri:
            run_name, name = uri.rstrip("/").split("/")[-2:] if "/" in uri else (uri, ROOT_ACTION)
        if not run_name:
            raise TypeError("Action.get needs run_name= (and name=, default a0)")
        client = client_for()
        detail = await _fetch(client, run_name, name or ROOT_ACTION, project, domain)
        return cls(client, run_name, name or ROOT_ACTION, project, domain, detail=detail)

    @syncified_classmethod
    async def listall(cls: Any, for_run_name: str, in_phase: Any = None, parent_name: str | None = None,
                      sort_by: Any = None, project: str | None = None, domain: str | None = None,
                      **_filters: Any) -> list["Action"]:
        """The actions of run `for_run_name`, in the order they were created, optionally only the
        children of `parent_name` or those in one of the phases `in_phase`."""
        client = client_for()
        try:
            _, infos = await _acall(lambda: client.get_run(for_run_name, project=project, domain=domain))
        except BackendError as exc:
            if exc.code == "NOT_FOUND":
                raise ActionNotFoundError(f"run {for_run_name!r} does not exist on {client.endpoint}") from None
            raise
        phases = None
        if in_phase is not None:
            items = (in_phase,) if isinstance(in_phase, (str, Phase)) else tuple(in_phase)
            phases = {Phase(str(getattr(p, "value", p)).upper()) for p in items}
        out = []
        for info in infos:
            if parent_name is not None and (info.parent or "") != parent_name:
                continue
            if phases is not None and info.phase not in phases:
                continue
            out.append(cls(client, for_run_name, info.name, project, domain, detail=_InfoOnly(info)))
        return out

    # -- state --------------------------------------------------------------------------------------

    def sync(self) -> "Action":
        """Read the action's current state from the backend."""
        self._detail = _call(lambda: _fetch(self.client, self.run_name, self.name, self.project, self.domain))
        return self

    @property
    def _info(self) -> ActionInfo:
        if self._detail is None:
            self.sync()
        return self._detail.info

    @property
    def phase(self) -> Phase:
        return self._info.phase

    @property
    def task_name(self) -> str:
        return self._info.task

    @property
    def parent_name(self) -> str | None:
        return self._info.parent

    @property
    def attempts(self) -> int:
        return self._info.attempts

    @property
    def error(self) -> Any:
        return self._info.error

    def done(self) -> bool:
        """Whether the action has ended (fresh from the backend)."""
        return self.sync().phase.terminal

    def wait(self, timeout: float | None = None, quiet: bool = True, wait_for: str = "terminal") -> "Action":
        """Block until the action ends (or, with `wait_for="running"`, starts running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while True:
            phase = self.sync().phase
            if phase.terminal or (wait_for == "running" and phase not in (Phase.QUEUED, Phase.INITIALIZING)):
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"action {self.run_name}/{self.name} still {phase.value} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    # -- data ---------------------------------------------------------------------------------------

    def outputs(self) -> Any:
        """The action's return value once it has ended; raises its failure as a parent would."""
        self.wait()
        detail = self._detail
        info = detail.info
        if info.phase.succeeded:
            from flyte_jupyter._internal.runtime import storage as _storage
            from flyte_jupyter._internal.runtime.spec import decode_output

            return decode_output(self.task, _storage.get_bytes(_storage.join(detail.outputs_uri, "outputs.pb")))
        err = info.error
        raise action_failure(action=info.name, task=info.task, kind=err.kind if err else info.phase.value,
                             message=err.message if err else f"the action ended {info.phase.value}",
                             attempts=info.attempts, max_attempts=getattr(detail, "max_attempts", 1),
                             traceback=err.traceback if err else "", phase=info.phase.value,
                             origin=err.origin if err else "user")

    def inputs(self) -> dict[str, Any]:
        """The action's inputs as Python values (typed when the task is known here)."""
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_KEY
        from flyte_jupyter._internal.types import decode_inputs

        if not getattr(self._detail, "inputs_uri", ""):
            self.sync()
        types = self.task.interface.input_types if self.task is not None else {}
        values = decode_inputs(_storage.get_bytes(self._detail.inputs_uri), types)
        values.pop(CUSTOM_CONTEXT_KEY, None)
        return values

    # -- logs and abort -----------------------------------------------------------------------------

    def get_logs(self, attempt: int | None = None, filter_system: bool = False, show_ts: bool = False) -> Any:
        """The lines the action printed (latest attempt by default), as an iterator."""
        async def collect() -> list[str]:
            return [line.text async for line in self.client.tail_logs(
                self.run_name, self.name, attempt or 0, project=self.project, domain=self.domain)]

        return iter(_call(collect))

    def show_logs(self, attempt: int | None = None, max_lines: int = 100, show_ts: bool = False,
                  raw: bool = False, filter_system: bool = False) -> str:
        """Print the action's last `max_lines` lines, and return them."""
        lines = list(self.get_logs(attempt))
        text = "\n".join(lines[-max_lines:] if max_lines else lines)
        print(text)
        return text

    def abort(self, reason: str = "aborted from the SDK") -> None:
        """Abort the action and its descendants (the run goes on: its parent sees ActionAbortedError)."""
        _call(lambda: self.client.abort_queued_action(self.run_name, self.name, reason, self.project, self.domain,
                                                      timeout=60))

    def __repr__(self) -> str:
        phase = self._detail.info.phase.value if self._detail is not None else "?"
        return f"<Action {self.run_name}/{self.name} {phase}>"


class _InfoOnly:
    """An action's state from a run listing (no storage locations until `sync()`)."""

    def __init__(self, info: ActionInfo) -> None:
        self.info = info
        self.inputs_uri = ""
        self.outputs_uri = ""
        self.max_attempts = 1


async def _fetch(client: Any, run: str, name: str, project: str | None, domain: str | None) -> Any:
    try:
        return await _acall(lambda: client.get_action(run, name, project=project, domain=domain))
    except BackendError as exc:
        if exc.code == "NOT_FOUND":
            raise ActionNotFoundError(f"action {run}/{name} does not exist on {client.endpoint}") from None
        raise
