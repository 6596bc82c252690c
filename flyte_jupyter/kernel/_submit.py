"""Starting runs from the kernel, awaiting them without blocking the kernel's event loop, and the
runs this kernel knows about (for `%flyte runs`, `status`, `abort`)."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import threading
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter.errors import ActionAbortedError, ActionFailedError
from flyte_jupyter.kernel._errors import CellError

_runs: "collections.OrderedDict[str, Any]" = collections.OrderedDict()
_runs_lock = threading.Lock()
MAX_REMEMBERED = 200


def remember(run: Any) -> None:
    with _runs_lock:
        _runs.pop(run.name, None)
        _runs[run.name] = run
        while len(_runs) > MAX_REMEMBERED:
            _runs.popitem(last=False)


def known_runs() -> list[Any]:
    """Runs started or shown in this kernel, newest first."""
    with _runs_lock:
        return list(reversed(_runs.values()))


def find_run(name: str) -> Any | None:
    with _runs_lock:
        return _runs.get(name)


@dataclasses.dataclass
class Target:
    """Where and how a run goes: the options every `run` form of the magics accepts."""

    local: bool = False
    name: str | None = None
    project: str | None = None
    domain: str | None = None
    overwrite_cache: bool = False

    def options(self) -> Any:
        import flyte_jupyter as flyte

        return flyte.with_runcontext(mode="local" if self.local else "remote", name=self.name,
                                     project=self.project, domain=self.domain,
                                     overwrite_cache=self.overwrite_cache, source="notebook")


def _explain_remote_failure(exc: BaseException) -> CellError:
    configured = _config.current().endpoint
    if isinstance(exc, ImportError):
        return CellError(f"remote runs are not available in this installation ({exc}); run the cell with "
                         "`%%flyte run --local`")
    if configured:
        return CellError(f"could not submit the run to the backend at {configured}: {exc}. Check it with "
                         "`%flyte backend status`, connect elsewhere with `%flyte connect CONFIG_OR_ENDPOINT`, "
                         "or run in this kernel with `--local`")
    return CellError(f"no backend is configured and the embedded backend could not be started: {exc}. "
                     "Connect to one with `%flyte connect CONFIG_OR_ENDPOINT`, start it with "
                     "`%flyte backend start`, or run in this kernel with `--local`")


def _is_user_error(exc: BaseException) -> bool:
    # bad inputs, names or limits: the message already says what is wrong
    code = getattr(exc, "code", None)
    return isinstance(exc, (TypeError, ValueError)) or code in ("INVALID_ARGUMENT", "ALREADY_EXISTS")


def _is_pickling_error(exc: BaseException) -> bool:
    import pickle

    return isinstance(exc, pickle.PicklingError) or (isinstance(exc, TypeError) and "pickle" in str(exc))


def start(task: Any, args: tuple, kwargs: dict, target: Target) -> Any:
    """Start a run and return it at once (it runs in the background)."""
    opts = target.options()
    if target.local:
        run = opts.start_local(task, args, kwargs)
    else:
        try:
            from flyte_jupyter._internal.client.resolve import resolve_client
            from flyte_jupyter._internal.client.submit import submit_run_sync
        except ImportError as exc:
            raise _explain_remote_failure(exc) from None
        try:
            resolve_client()  # the configured backend, or the embedded one, started on demand
        except Exception as exc:
            raise _explain_remote_failure(exc) from None
        try:
            run = submit_run_sync(opts, task, args, kwargs)
        except ActionFailedError:
            raise
        except Exception as exc:
            if _is_pickling_error(exc):
                raise CellError(f"the code could not be shipped to the backend: {exc}. The cell (or a task or "
                                "helper it uses) refers to a notebook object that cannot be pickled; create "
                                "it inside the cell or task, or run with --local") from None
            if _is_user_error(exc):
                raise CellError(str(exc)) from None
            raise CellError(f"could not submit the run: {type(exc).__name__}: {exc}") from None
    remember(run)
    return run


async def start_async(task: Any, args: tuple, kwargs: dict, target: Target) -> Any:
    """`start` for the async cell path: remote submission happens off the kernel's loop."""
    if target.local:
        return start(task, args, kwargs, target)
    return await asyncio.to_thread(start, task, args, kwargs, target)


async def wait_async(run: Any) -> None:
    """Wait for the run without blocking the kernel's loop (widget clicks keep working).
    If the cell is interrupted, the run is aborted; if the run cannot be followed any more (its
    backend went away), say so."""
    waiter = asyncio.ensure_future(asyncio.to_thread(run.wait))
    try:
        while not waiter.done():
            # Wake the kernel's loop now and then: a kernel interrupt (SIGINT) is only handled
            # when the main thread runs, and a loop asleep in select() would hold it back.
            await asyncio.wait([waiter], timeout=0.25)
    except asyncio.CancelledError:
        await asyncio.to_thread(_abort_quietly, run, "the cell was interrupted")
        raise
    try:
        waiter.result()
    except Exception as exc:
        raise CellError(f"lost track of run {run.name} ({type(exc).__name__}: {exc}); it may still be "
                        f"running: `%flyte status {run.name}`") from None


def wait_blocking(run: Any) -> None:
    """The same for sync callers; Ctrl-C (kernel interrupt) aborts the run."""
    try:
        while not run.done:
            run.state.wait_for_change(0.5)
        run.wait(60.0)
    except KeyboardInterrupt:
        _abort_quietly(run, "the cell was interrupted")
        raise interrupted(run) from None


def interrupted(run: Any) -> ActionAbortedError:
    """What an interrupted cell says, after it asked the run to abort."""
    phase = run.phase.value
    if phase == "ABORTED":
        return ActionAbortedError(f"run {run.name} was aborted: the cell was interrupted")
    if run.done:
        return ActionAbortedError(f"the cell was interrupted, but run {run.name} ended {phase} before the "
                                  "abort took effect")
    return ActionAbortedError(f"the cell was interrupted; run {run.name} is being aborted (still {phase}: a "
                              "task body that blocks can only stop when it returns); see `%flyte status "
                              f"{run.name}`")


def _abort_quietly(run: Any, reason: str) -> None:
    try:
        run.abort(reason)
        run.wait(30.0)
    except Exception:
        pass


def outputs(run: Any) -> Any:
    """The run's value, or its failure as a clean error (no traceback through our internals)."""
    phase = run.phase.value
    if phase == "ABORTED":
        raise ActionAbortedError(f"run {run.name} was aborted") from None
    try:
        return run.outputs()
    except ActionFailedError as err:
        err.__cause__ = None
        err.__context__ = None
        raise err.with_traceback(None) from None
    except (asyncio.CancelledError, concurrent.futures.CancelledError, ActionAbortedError):
        raise ActionAbortedError(f"run {run.name} was aborted") from None
