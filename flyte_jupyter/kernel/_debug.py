"""Debug a failed action in the kernel: `%flyte debug RUN ACTION` (and the widget's Debug button).

The backend hands the action's recorded task spec and typed inputs to a caller allowed to read
the run (GetAction with_inputs, under the same credentials as every other call); the code is the
bundle the run shipped (fetched, checked and extracted as an action would, into a temporary
directory, or unpickled), never the notebook's current cells. The inputs are bound in the
notebook under their parameter names, then the task's body runs here, in the kernel's process, so
an exception leaves its traceback for `%debug` / `pdb.pm()`, which stop on the frame that raised
with the real inputs. Tasks the body calls run in local mode (in this kernel, not on the backend);
with `--remote` each of them runs on the backend as a run of its own, awaited here.

Env vars: the task's own (from its spec) are listed, and applied to this process only with `--env`
(they may change the kernel's behaviour). Secrets are never fetched: the spec carries none, and the
backend's own variables (endpoint, token) are not part of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from flyte_jupyter._internal.controllers.base import Controller
from flyte_jupyter._internal.runtime.scratch import scratch_dir
from flyte_jupyter.kernel._errors import CellError

_BACKEND_ENV_PREFIX = "FLYTE_JUPYTER_"


@dataclasses.dataclass
class DebugSession:
    """What `%flyte debug` loaded: the task, its inputs (bound in the notebook) and its env vars."""

    run: str
    action: str
    task: Any
    inputs: dict[str, Any]
    env: dict[str, str]
    applied_env: bool

    def __repr__(self) -> str:
        return f"DebugSession(run={self.run!r}, action={self.action!r}, task={self.task.name!r})"


def load(run: str, action: str) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """(task, inputs, env vars) of one recorded action, from the backend."""
    from flyte_jupyter._internal.client.calls import call
    from flyte_jupyter._internal.client.resolve import resolve_client
    from flyte_jupyter._internal.runtime.entrypoint import load_task, parse_args
    from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_KEY
    from flyte_jupyter._internal.types import decode_inputs
    from flyte_jupyter.errors import BackendError

    client = resolve_client()
    try:
        _, spec, data = call(lambda: client.get_action_spec(run, action, with_inputs=True))
    except BackendError as exc:
        raise CellError(f"cannot debug action {action} of run {run}: {exc.message}") from None
    if not spec.args:
        raise CellError(f"action {action} of run {run} has no recorded task spec to load")
    args = parse_args(list(spec.args))
    args.dest = scratch_dir(f"debug-{run}-")
    try:
        task, _ = load_task(args)
    except Exception as exc:  # noqa: BLE001 - the loader's failures carry their own message
        raise CellError(f"cannot load the code of action {action} of run {run}: {exc}") from None
    inputs = decode_inputs(data, task.interface.input_types) if data else {}
    inputs.pop(CUSTOM_CONTEXT_KEY, None)
    env = {k: v for k, v in spec.env.items() if not k.startswith(_BACKEND_ENV_PREFIX)}
    return task, inputs, env


class _RunPerCall(Controller):
    """`--remote`: a task the debugged body calls runs on the backend, as its own run."""

    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        import flyte_jupyter as flyte

        child = await flyte.with_runcontext(mode="remote").run_aio(task, *args, **kwargs)
        print(f"  {task.name} runs on the backend as run {child.name}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, child.wait)
        return child.outputs()


def debug_action(shell: Any, run: str, action: str, *, apply_env: bool = False, remote: bool = False) -> Any:
    """Load the action, bind its inputs in the notebook, print what was bound, run the task's
    body here and return its value (or raise what it raises, for `%debug`)."""
    task, inputs, env = load(run, action)
    namespace = shell.user_ns if shell is not None else {}
    namespace.update(inputs)
    session = DebugSession(run, action, task, inputs, env, apply_env)
    namespace["_flyte_debug"] = session
    print(f"debugging action {action} of run {run}: task {task.name}")
    for name, value in inputs.items():
        text = repr(value)
        print(f"  {name} = {text if len(text) <= 120 else text[:119] + '…'}")
    if env:
        verb = "applied" if apply_env else "not applied (pass --env to apply them)"
        print(f"  env vars of the task, {verb}: " + ", ".join(f"{k}={v}" for k, v in sorted(env.items())))
        if apply_env:
            os.environ.update(env)
    print("  secrets are not fetched; tasks it calls run " + (
        "on the backend, each as a run of its own" if remote else "in local mode, here"))
    func = task.func
    twin = _notebook_twin(namespace, task)
    if twin is not None:  # the same code, compiled from a cell: tracebacks and pdb show its lines
        func = twin
    else:
        print("  the notebook's cells no longer hold this code: it runs as recorded (pdb may show no source lines)")
    try:
        return _call(func, inputs, action, run, task, remote)
    except BaseException as exc:
        tb = _from_task_frame(exc.__traceback__, func.__code__)
        if tb is None:
            raise
        raise exc.with_traceback(tb)  # the event loop's frames cut: the traceback starts in the task


def _from_task_frame(tb: Any, code: Any) -> Any:
    """The part of a traceback from the task body's own frame on (None: it is not in it)."""
    while tb is not None and tb.tb_frame.f_code is not code:
        tb = tb.tb_next
    return tb


def _call(func: Any, inputs: dict[str, Any], action: str, run: str, task: Any, remote: bool) -> Any:
    from flyte_jupyter._internal.controllers.base import run_sync

    if not remote:
        return run_sync(lambda: func(**inputs)) if _is_async(func) else func(**inputs)
    from flyte_jupyter._context import ActionID, TaskContext, task_context

    here = TaskContext(action=ActionID(name=action, run_name=f"debug-{run}"), mode="local", task_name=task.name,
                       controller=_RunPerCall())

    async def body() -> Any:
        with task_context(here):
            return await func(**inputs)

    if _is_async(func):
        return run_sync(body)
    with task_context(here):
        return func(**inputs)


def _notebook_twin(namespace: dict[str, Any], task: Any) -> Any:
    """The notebook's own function of `task` when its code is the recorded code, byte for byte."""
    from flyte_jupyter._task import TaskTemplate, _code_text

    recorded = _code_text(task.func.__code__)
    for value in list(namespace.values()):
        if isinstance(value, TaskTemplate) and value.name == task.name and value is not task:
            if _code_text(value.func.__code__) == recorded:
                return value.func
    return None


def _is_async(func: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(func)


__all__ = ["DebugSession", "debug_action", "load"]
