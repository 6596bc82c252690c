"""Starting runs: `flyte.run` and `flyte.with_runcontext` (local here, remote through the backend client)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal

from flyte_jupyter import _config
from flyte_jupyter._internal.runs.base import Run
from flyte_jupyter._internal.runs.local import LocalRun, start_local
from flyte_jupyter._internal.wire.models import Phase
from flyte_jupyter.errors import ActionFailedError

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
    # resume (remote): recover this run's succeeded actions whose task code and inputs are unchanged
    recover_from: str | None = None
    force_rerun_actions: tuple[str, ...] = ()

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
        submit = getattr(task, "_submit_remote", None)  # a deployed task (flyte.remote.Task): its registered code
        if submit is not None:
            return _run_sync_or_bridge(lambda: submit(self._for_remote(), args, kwargs))
        _check_task(task)
        if self.resolved_mode() == "remote":
            return _submit_remote_sync(self._for_remote(), task, args, kwargs)
        run = self.start_local(task, args, kwargs)
        run.wait()
        if run.phase in (Phase.FAILED, Phase.TIMED_OUT):
            run.outputs()  # raises the run's failure
        return run

    async def run_aio(self, task: Any, *args: Any, **kwargs: Any) -> Run:
        submit = getattr(task, "_submit_remote", None)
        if submit is not None:
            return await submit(self._for_remote(), args, kwargs)
        _check_task(task)
        if self.resolved_mode() == "remote":
            from flyte_jupyter._internal.client.submit import submit_run

            return await submit_run(self._for_remote(), task, args, kwargs)
        run = self.start_local(task, args, kwargs)
        try:
            await run._aresult()
        except ActionFailedError:
            raise
        except BaseException:
            pass
        return run

    def _for_remote(self) -> "RunOptions":
        """The options a remote submission uses: the run's custom context rides in its environment
        (every action of the run reads it from there)."""
        if not self.custom_context:
            return self
        import json

        from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_ENV

        bad = [k for k, v in self.custom_context.items() if not isinstance(v, str)]
        if bad:
            raise TypeError(f"custom_context values must be strings; {bad} are not")
        env = {**(self.env_vars or {}), CUSTOM_CONTEXT_ENV: json.dumps(dict(self.custom_context), sort_keys=True)}
        return dataclasses.replace(self, env_vars=env)

    def rerun(self, run_name: str, action_name: str = "a0", recover: bool = False,
              force_rerun_actions: Any = None, allow_missing_source_outputs: bool = False, **inputs: Any) -> Run:
        """Flyte 2's `rerun`: a new run of the prior run's recorded code and inputs, on the backend.

        `action_name` roots the new run at that action of the prior run (with the inputs it
        received); `inputs` replace recorded inputs by name; with `recover`, every action that
        SUCCEEDED in the prior run (same deterministic name, task and code) is reused from its
        recorded outputs and lands RECOVERED without running, except those named in
        `force_rerun_actions`. The prior run's env vars carry over; `env_vars` here add to them.
        Returns the new run at once (call `.wait()`), as `flyte.run` does remotely.
        `allow_missing_source_outputs` is accepted for Flyte 2 compatibility: a recorded output
        that is missing makes its action run again anyway."""
        if self.resolved_mode() != "remote":
            raise _rerun_gap(run_name)
        from flyte_jupyter._internal.client.calls import acall
        from flyte_jupyter._internal.client.rerun import submit_rerun
        from flyte_jupyter._internal.client.resolve import resolve_client
        from flyte_jupyter.remote._run import RemoteRun

        client = resolve_client()

        async def start() -> Run:
            summary = await acall(lambda: submit_rerun(client, self, run_name, action_name, recover,
                                                       force_rerun_actions, inputs))
            return RemoteRun(summary.name, None, client, summary.project, summary.domain, summary.url)

        return _run_sync_or_bridge(start)

    def start_local(self, task: Any, args: tuple, kwargs: dict) -> LocalRun:
        """Begin a local run on the local-run loop and return at once (views attach to it)."""
        check = getattr(task, "check_runnable", None)  # a task type that refuses a local run up front
        if check is not None:
            check()
        return start_local(self, task, args, kwargs)


def _check_task(task: Any) -> None:
    from flyte_jupyter._task import TaskTemplate

    if not isinstance(task, TaskTemplate):
        raise TypeError(f"flyte.run() takes a task declared with @env.task, got {type(task).__name__}: "
                        "decorate the function with @env.task first")


def _submit_remote_sync(options: RunOptions, task: Any, args: tuple, kwargs: dict) -> Run:
    """A remote run from sync code. Without a running loop in this thread (a script, a worker
    thread) it is submitted right here over the process's backend loop, with no event loop or
    thread of its own per run; under a running loop (a cell's), through the bridge as before, so
    image builds and bundling never run on the caller's loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        from flyte_jupyter._internal.client.submit import submit_run_sync

        return submit_run_sync(options, task, args, kwargs)
    from flyte_jupyter._internal.client.submit import submit_run

    return _run_sync_or_bridge(lambda: submit_run(options, task, args, kwargs))


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


def _rerun_gap(run_name: str) -> Exception:
    from flyte_jupyter.errors import NotSupportedHereError

    return NotSupportedHereError(
        f"flyte.rerun({run_name!r}) replays a run recorded by a backend, and this is local mode (as in "
        "Flyte 2, rerun works remotely only): call flyte.init_from_config() or pass "
        "with_runcontext(mode='remote')")


class _RerunFunction:
    """`flyte.rerun(run_name, action_name="a0", recover=False, ...)`: see `RunOptions.rerun`."""

    def __call__(self, run_name: str, action_name: str = "a0", recover: bool = False,
                 force_rerun_actions: Any = None, allow_missing_source_outputs: bool = False, **inputs: Any) -> Run:
        return RunOptions().rerun(run_name, action_name, recover, force_rerun_actions,
                                  allow_missing_source_outputs, **inputs)

    async def aio(self, run_name: str, action_name: str = "a0", recover: bool = False,
                  force_rerun_actions: Any = None, allow_missing_source_outputs: bool = False, **inputs: Any) -> Run:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self(run_name, action_name, recover, force_rerun_actions, allow_missing_source_outputs,
                               **inputs))


rerun = _RerunFunction()

__all__ = ["Run", "LocalRun", "RunOptions", "rerun", "run", "with_runcontext"]
