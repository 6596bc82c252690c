"""Starting runs: `flyte.run`, `flyte.with_runcontext`, and the Run object they return."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import time
from typing import Any, Callable, Literal

from flyte_jupyter import _config
from flyte_jupyter._context import ActionID, TaskContext
from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION, new_run_name
from flyte_jupyter.errors import ActionFailedError


class Run:
    """One run: the root action `a0` and its descendants, live.

    Local and remote runs share this surface; `state` is the live action tree that views subscribe to.
    """

    mode: str = "local"

    def __init__(self, name: str, task: Any, state: RunState) -> None:
        self.name = name
        self.task = task
        self.state = state

    # -- what a user reads ---------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        return None

    @property
    def root(self) -> ActionInfo | None:
        return self.state.get(ROOT_ACTION)

    @property
    def phase(self) -> Phase:
        root = self.root
        return root.phase if root else Phase.QUEUED

    @property
    def done(self) -> bool:
        return self.phase.terminal

    @property
    def actions(self) -> dict[str, ActionInfo]:
        return self.state.actions

    @property
    def error(self) -> Any:
        root = self.root
        return root.error if root else None

    def wait(self, timeout: float | None = None, quiet: bool = True) -> "Run":
        """Block until the run ends (or `timeout` seconds pass); returns the run. With
        `quiet=False` a status line is printed to stderr as actions finish."""
        if not quiet:
            from flyte_jupyter._internal.display.tree_text import print_progress

            stop = print_progress(self)
            try:
                return self.wait(timeout)
            finally:
                stop()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_change(0.5 if left is None else min(left, 0.5))
        return self

    def outputs(self) -> Any:
        raise NotImplementedError

    def abort(self, reason: str = "aborted by user") -> None:
        raise NotImplementedError

    def watch(self, callback: Callable[..., None]) -> Callable[[], None]:
        """Call `callback(event, info)` on every phase change of every action; returns unsubscribe."""
        return self.state.subscribe(callback)

    def show_logs(self, action: str = ROOT_ACTION) -> str:
        raise NotImplementedError

    def tree_text(self) -> str:
        """The action tree as indented text: what a terminal shows."""
        from flyte_jupyter._internal.display.tree_text import render_tree

        return render_tree(self)

    def _ipython_display_(self) -> None:
        """In IPython: the live widget the notebook layer registers (see `_display`), else text."""
        from flyte_jupyter._internal.display.renderer import display_run

        display_run(self)

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.mode} {self.phase.value}>"


class LocalRun(Run):
    """A run executing in this process, on the shared background loop."""

    mode = "local"

    def __init__(self, name: str, task: Any, state: RunState, future: concurrent.futures.Future,
                 raw_data_path: str, task_holder: dict[str, asyncio.Task]) -> None:
        super().__init__(name, task, state)
        self._future = future
        self.raw_data_path = raw_data_path
        self._task_holder = task_holder  # filled with the root's asyncio task once it starts

    @property
    def url(self) -> str | None:
        return self.raw_data_path

    def wait(self, timeout: float | None = None, quiet: bool = True) -> "Run":
        if not quiet:
            return super().wait(timeout, quiet)
        try:
            self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s") from None
        except BaseException:  # the failure is recorded in the tree; outputs() raises it
            pass
        return self

    def outputs(self) -> Any:
        """The root task's outputs; raises the run's failure (naming the failing action) if it failed."""
        self.wait()
        return self._future.result()

    def abort(self, reason: str = "aborted by user") -> None:
        """Cancel the root action and with it every live child; `wait()` returns once all have ended."""
        task = self._task_holder.get("task")
        if task is not None:
            _loop().call_soon_threadsafe(task.cancel)
        else:
            self._future.cancel()

    def show_logs(self, action: str = ROOT_ACTION) -> str:
        return "local actions print straight to this process's output"

    async def _aresult(self) -> Any:
        return await asyncio.wrap_future(self._future)


def _loop() -> asyncio.AbstractEventLoop:
    """The loop local runs execute on; a notebook's own loop stays free."""
    from flyte_jupyter._internal.runtime.loops import background_loop

    return background_loop("flyte-local-loop", executor_threads=64)


# -- run options ---------------------------------------------------------------------------------


@dataclasses.dataclass
class RunOptions:
    """What `with_runcontext(...)` sets; shared by the local and the remote path."""

    mode: Literal["local", "remote"] | None = None
    name: str | None = None
    overwrite_cache: bool = False
    env_vars: dict[str, str] | None = None
    raw_data_path: str | None = None
    project: str | None = None
    domain: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    interruptible: bool | None = None
    custom_context: dict[str, str] | None = None
    source: str | None = None  # notebook or script the run came from, shown in the side panel
    version: str | None = None  # remote: the code version (default: the bundle's content digest)

    def resolved_mode(self) -> str:
        if self.mode is not None:
            if self.mode not in ("local", "remote"):
                raise ValueError(f"mode={self.mode!r} is unknown; use 'local' or 'remote'")
            return self.mode
        return "remote" if _config.current().is_remote else "local"

    # -- submitting ----------------------------------------------------------------------------

    def run(self, task: Any, *args: Any, **kwargs: Any) -> Run:
        """Start a run of `task`. Local runs finish before this returns; remote runs are returned
        at once (call `.wait()`), as in Flyte."""
        _check_task(task)
        if self.resolved_mode() == "remote":
            from flyte_jupyter._internal.client import submit_run

            return _run_sync_or_bridge(lambda: submit_run(self, task, args, kwargs))
        run = self.start_local(task, args, kwargs)
        run.wait()
        if run.phase in (Phase.FAILED, Phase.TIMED_OUT):
            run.outputs()  # raises the run's failure
        return run

    async def run_aio(self, task: Any, *args: Any, **kwargs: Any) -> Run:
        _check_task(task)
        if self.resolved_mode() == "remote":
            from flyte_jupyter._internal.client import submit_run

            return await submit_run(self, task, args, kwargs)
        run = self.start_local(task, args, kwargs)
        try:
            await run._aresult()
        except ActionFailedError:
            raise
        except BaseException:
            pass
        return run

    def start_local(self, task: Any, args: tuple, kwargs: dict) -> LocalRun:
        """Begin a local run on the background loop and return at once (views attach to it)."""
        from flyte_jupyter._internal.controllers.local_cache import local_cache
        from flyte_jupyter._internal.controllers.local import LocalController
        from flyte_jupyter._internal.types import to_literal_map

        inputs = task.bind(args, kwargs)
        literals = to_literal_map(inputs, task.interface.input_types, task=task.name)  # wrong types fail here
        cfg = _config.current()
        name = self.name or new_run_name()
        raw = self.raw_data_path or cfg.raw_data_path or str(_config.data_dir() / "local-runs" / name)
        state = RunState(name)
        controller = LocalController(state, cache=local_cache(), overwrite_cache=self.overwrite_cache)
        root = TaskContext(
            action=ActionID(ROOT_ACTION, name, self.project or cfg.project, self.domain or cfg.domain, cfg.org),
            mode="local", version=task.cache_version(), raw_data_path=raw, task_name=task.name,
            custom_context=dict(self.custom_context or {}), env_vars=dict(self.env_vars or {}),
            controller=controller,
        )
        holder: dict[str, asyncio.Task] = {}

        async def drive() -> Any:
            holder["task"] = asyncio.current_task()  # abort() cancels this task, not the outer future
            return await _with_env(self.env_vars, controller.run_root(task, inputs, literals, root))

        return LocalRun(name, task, state, asyncio.run_coroutine_threadsafe(drive(), _loop()), raw, holder)


async def _with_env(env_vars: dict[str, str] | None, coro: Any) -> Any:
    """Local runs share the process environment; `env_vars` are set for the run's duration."""
    if not env_vars:
        return await coro
    import os

    saved = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    try:
        return await coro
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _check_task(task: Any) -> None:
    from flyte_jupyter._task import TaskTemplate

    if not isinstance(task, TaskTemplate):
        raise TypeError(f"flyte.run() takes a task declared with @env.task, got {type(task).__name__}: "
                        "decorate the function with @env.task first")


def _run_sync_or_bridge(make_coro: Callable[[], Any]) -> Any:
    from flyte_jupyter._internal.controllers.base import run_sync

    return run_sync(make_coro)


def with_runcontext(mode: Literal["local", "remote"] | None = None, *, name: str | None = None,
                    overwrite_cache: bool = False, env_vars: dict[str, str] | None = None,
                    raw_data_path: str | None = None, project: str | None = None, domain: str | None = None,
                    labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                    interruptible: bool | None = None, custom_context: dict[str, str] | None = None,
                    source: str | None = None, version: str | None = None, **_ignored: Any) -> RunOptions:
    """Options for one run: `flyte.with_runcontext(mode="local", name="demo").run(main, x=1)`."""
    return RunOptions(mode=mode, name=name, overwrite_cache=overwrite_cache, env_vars=env_vars,
                      raw_data_path=raw_data_path, project=project, domain=domain, labels=labels,
                      annotations=annotations, interruptible=interruptible, custom_context=custom_context,
                      source=source, version=version)


class _RunFunction:
    """`flyte.run(task, ...)`, with `flyte.run.aio(task, ...)` for async callers."""

    def __call__(self, task: Any, *args: Any, **kwargs: Any) -> Run:
        return RunOptions().run(task, *args, **kwargs)

    async def aio(self, task: Any, *args: Any, **kwargs: Any) -> Run:
        return await RunOptions().run_aio(task, *args, **kwargs)


run = _RunFunction()

__all__ = ["Run", "LocalRun", "RunOptions", "run", "with_runcontext"]
