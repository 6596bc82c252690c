"""A run executing in this process, on the shared local-run loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter._context import ActionID, TaskContext
from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.runs.base import Run
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION, new_run_name


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


def start_local(options: Any, task: Any, args: tuple, kwargs: dict) -> LocalRun:
    """Begin a local run on the background loop and return at once (views attach to it)."""
    from flyte_jupyter._internal.controllers import create_controller
    from flyte_jupyter._internal.controllers.local_cache import local_cache
    from flyte_jupyter._internal.types import to_literal_map

    inputs = task.bind(args, kwargs)
    literals = to_literal_map(inputs, task.interface.input_types, task=task.name)  # wrong types fail here
    cfg = _config.current()
    name = options.name or new_run_name()
    raw = options.raw_data_path or cfg.raw_data_path or str(_config.data_dir() / "local-runs" / name)
    state = RunState(name)
    controller = create_controller("local", state=state, cache=local_cache(), overwrite_cache=options.overwrite_cache)
    root = TaskContext(
        action=ActionID(ROOT_ACTION, name, options.project or cfg.project, options.domain or cfg.domain, cfg.org),
        mode="local", version=task.cache_version(), raw_data_path=raw, task_name=task.name,
        custom_context=dict(options.custom_context or {}), env_vars=dict(options.env_vars or {}),
        controller=controller,
    )
    holder: dict[str, asyncio.Task] = {}

    async def drive() -> Any:
        current = asyncio.current_task()  # never None inside a running coroutine
        if current is not None:
            holder["task"] = current  # abort() cancels this task, not the outer future
        return await _with_env(options.env_vars, controller.run_root(task, inputs, literals, root))

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
