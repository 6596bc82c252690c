"""Starting runs from the kernel, awaiting them without blocking the kernel's event loop, and the
runs this kernel knows about (for `%flyte runs`, `status`, `abort`).

Named runs from a cell form a series: a cell that runs `--name X` again (Run All, a re-executed
cell) gets the next free name, `X-2`, `X-3`, ..., instead of failing because `X` exists. The series
belongs to the cell that first took the name: a run records its cell (the notebook's cell id, or,
where the frontend sends none, a digest of the cell's text) and its series in its labels
(`flyte-jupyter/cell`, `flyte-jupyter/series`), so the series continues after a kernel restart.
Another cell asking for a taken name is refused, as before, unless it passes `--overwrite`.
`--overwrite` replaces the run: a local run of that name is aborted (if still running) and
forgotten, a remote one aborted (if still running) and deleted on the backend (DeleteRun: its
records and data), and the new run takes the name.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import functools
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
    overwrite: bool = False  # replace a run of that name (see the module docstring)
    cell: str | None = None  # the cell asking (its id, or a digest of its text)
    echo_root: bool = False  # the root's prints go to the cell (a `%%flyte run` cell's own code)
    capture_output: bool = False  # a widget will show the actions' output (not a terminal)
    recover_from: str | None = None  # resume: recover the unchanged actions of this run
    force_rerun_actions: tuple[str, ...] = ()

    def labels(self) -> dict[str, str]:
        import os

        labels: dict[str, str] = {}
        if self.cell:
            labels[CELL_LABEL] = self.cell
        if self.name:
            labels[SERIES_LABEL] = self.name
        notebook = os.environ.get("JPY_SESSION_NAME")
        if notebook:
            labels[NOTEBOOK_LABEL] = notebook
        return labels

    def options(self, name: str | None = None) -> Any:
        import flyte_jupyter as flyte

        options = flyte.with_runcontext(mode="local" if self.local else "remote", name=name or self.name,
                                        project=self.project, domain=self.domain,
                                        overwrite_cache=self.overwrite_cache, source="notebook",
                                        labels=self.labels() or None)
        if self.recover_from:
            options = dataclasses.replace(options, recover_from=self.recover_from,
                                          force_rerun_actions=tuple(self.force_rerun_actions))
        return options


CELL_LABEL = "flyte-jupyter/cell"
SERIES_LABEL = "flyte-jupyter/series"
NOTEBOOK_LABEL = "flyte-jupyter/notebook"
MAX_SERIES = 999
_local_cells: dict[str, str | None] = {}  # local run name -> the cell that started it


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
    if target.local:
        name, note = _local_name(target)
        if note:
            print(note, flush=True)
        if name is not None and target.capture_output:
            from flyte_jupyter.kernel import _streams

            # its actions' output is captured from the first line, for the widget that shows it
            _streams.open_output(name, local=True, echo_root=target.echo_root)
        from flyte_jupyter.kernel._attempts import book_for

        gate = _hold_local_loop()
        try:
            run = target.options(name).start_local(task, args, kwargs)
            book_for(run)  # subscribed before the run's first event: no attempt is missed
        finally:
            gate.set()
        _local_cells[run.name] = target.cell
    else:
        try:
            from flyte_jupyter._internal.client.resolve import resolve_client
            from flyte_jupyter._internal.client.submit import submit_run_sync
        except ImportError as exc:
            raise _explain_remote_failure(exc) from None
        try:
            client = resolve_client()  # the configured backend, or the embedded one, started on demand
        except Exception as exc:
            raise _explain_remote_failure(exc) from None
        _say_where_runs_go(client)
        _remember_sources()
        name, note = _remote_name(client, target)
        if note:
            print(note, flush=True)
        run = None
        for _ in range(3):  # a name of the series taken meanwhile: the next one
            try:
                run = submit_run_sync(target.options(name), task, args, kwargs)
                break
            except ActionFailedError:
                raise
            except Exception as exc:
                if (getattr(exc, "code", None) == "ALREADY_EXISTS" and name != target.name
                        and "already exists" in str(exc) and f"run {name!r}" in str(exc)):
                    name = _next_free(lambda n: _remote_owner(client, target, n) is not None, target.name or "", name)
                    continue
                if _is_pickling_error(exc):
                    raise CellError(f"the code could not be shipped to the backend: {exc}. The cell (or a task or "
                                    "helper it uses) refers to a notebook object that cannot be pickled; create "
                                    "it inside the cell or task, or run with --local") from None
                if _is_user_error(exc):
                    raise CellError(str(exc)) from None
                raise CellError(f"could not submit the run: {type(exc).__name__}: {exc}") from None
        if run is None:
            raise CellError(f"could not find a free name in the series of {target.name!r}; pass another --name")
        from flyte_jupyter.kernel._attempts import book_for

        book_for(run)
    remember(run)
    return run


def _hold_local_loop() -> threading.Event:
    """Pause the loop local runs execute on (runs/local.py's `flyte-local-loop`) until the
    returned event is set: a run started meanwhile takes its first step only after the kernel has
    subscribed to it. Bounded: the loop goes on after 5 s whatever happens."""
    from flyte_jupyter._internal.runtime.loops import background_loop

    gate = threading.Event()
    background_loop("flyte-local-loop", executor_threads=64).call_soon_threadsafe(gate.wait, 5.0)
    return gate


# -- names: the series of a named cell -----------------------------------------------------------


def _series_name(base: str, k: int) -> str:
    return base if k == 1 else f"{base}-{k}"


def _next_free(taken: Any, base: str, after: str | None = None) -> str:
    """The first name of the series `base`, `base-2`, ... that is free (after `after`, if given)."""
    start = 2
    if after is not None and after != base and after.startswith(base + "-") and after[len(base) + 1:].isdigit():
        start = int(after[len(base) + 1:]) + 1
    for k in range(start, MAX_SERIES + 1):
        candidate = _series_name(base, k)
        if len(candidate) > 63:
            break
        if not taken(candidate):
            return candidate
    raise CellError(f"the series of run {base!r} has no free name left; pass another --name")


def _exists_message(name: str, where: str) -> str:
    return (f"run {name!r} already exists{where} and was not started by this cell; pick another --name, "
            f"or replace it with `--overwrite`")


def _local_name(target: Target) -> tuple[str | None, str | None]:
    """The name of a local run: the one asked for, the next of its series, or a generated one
    (generated here, so the run's output can be captured from its first line)."""
    from flyte_jupyter._internal.runtime.naming import new_run_name

    base = target.name
    if base is None:
        return new_run_name(), None
    old = find_run(base)
    if old is None or old.mode != "local":
        return base, None
    if target.overwrite:
        if not old.done:
            _abort_quietly(old, f"replaced by a new run of {base} (--overwrite)")
        from flyte_jupyter.kernel import _streams

        with _runs_lock:
            _runs.pop(base, None)
        _streams.forget(base)
        return base, f"[flyte] run {base} replaced (--overwrite)"
    if target.cell is None or _local_cells.get(base) != target.cell:
        raise CellError(_exists_message(base, " in this kernel"))

    def taken(n: str) -> bool:
        run = find_run(n)
        return run is not None and run.mode == "local"

    name = _next_free(taken, base)
    return name, _series_note(base, name)


def _series_note(base: str, name: str) -> str:
    return (f"[flyte] run {base} exists (an earlier run of this cell): this run is {name} "
            "(`--overwrite` replaces it instead)")


def _remote_owner(client: Any, target: Target, name: str) -> Any:
    """The summary of the run `name` on the backend, or None when the name is free."""
    from flyte_jupyter._internal.client.calls import call

    try:
        summary, _ = call(lambda: client.get_run(name, project=target.project, domain=target.domain), 30)
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            return None
        raise CellError(f"could not look up run {name!r} on the backend: {exc}") from None
    return summary


def _remote_name(client: Any, target: Target) -> tuple[str | None, str | None]:
    base = target.name
    if base is None:
        return None, None
    owner = _remote_owner(client, target, base)
    if owner is None:
        return base, None
    mine = target.cell is not None and owner.labels.get(CELL_LABEL) == target.cell
    if not mine and not target.overwrite:
        where = f" in {owner.project}/{owner.domain}"
        raise CellError(_exists_message(base, where))
    if not target.overwrite:
        name = _next_free(lambda n: _remote_owner(client, target, n) is not None, base)
        return name, _series_note(base, name)
    _delete_remote(client, target, base, owner)
    from flyte_jupyter.kernel import _streams

    with _runs_lock:
        _runs.pop(base, None)
    _streams.forget(base)
    return base, f"[flyte] run {base} replaced (--overwrite)"


def _delete_remote(client: Any, target: Target, name: str, owner: Any) -> None:
    """Delete the backend's run `name` for `--overwrite`: aborted first if it still runs (the
    backend deletes only finished runs), then its records and data."""
    import time

    from flyte_jupyter._internal.client.calls import call

    pd = {"project": target.project, "domain": target.domain}
    if not owner.phase.terminal:
        call(functools.partial(client.abort_run, name, "replaced by a new run (--overwrite)", **pd), 30)
    deadline = time.monotonic() + 30
    while True:
        try:
            call(functools.partial(client.delete_run, name, **pd), 60)
            return
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code == "NOT_FOUND":
                return
            if code != "FAILED_PRECONDITION" or time.monotonic() > deadline:
                raise CellError(f"--overwrite could not delete run {name!r} on the backend: {exc}") from None
        time.sleep(0.1)  # the abort is still ending its actions


# -- where runs go ---------------------------------------------------------------------------------

_told_where = False


def where_runs_go(client: Any) -> str:
    """One line: the backend runs go to, how many actions it runs at once, how to change it."""
    cfg = _config.current()
    facts: dict[str, Any] = {}
    try:
        from flyte_jupyter._internal.client.calls import call

        facts = call(lambda: client.status(), 10)
    except Exception:
        pass
    slots = facts.get("max_parallelism")
    runs_at_once = f", {slots} actions at a time" if slots else ""
    change = "`%flyte connect CONFIG_OR_ENDPOINT` uses another backend; `--local` runs a cell in this kernel"
    if cfg.endpoint:
        return f"[flyte] runs go to the backend at {client.endpoint}{runs_at_once}. {change}."
    data = facts.get("data_dir") or ""
    return (f"[flyte] runs go to the embedded backend at {client.endpoint}{runs_at_once}"
            + (f" (data in {data})" if data else "")
            + f". It keeps running after this kernel; `%flyte backend stop` stops it. {change}.")


def _say_where_runs_go(client: Any) -> None:
    global _told_where
    if _told_where:
        return
    _told_where = True
    print(where_runs_go(client), flush=True)


def _remember_sources() -> None:
    """Keep the notebook's cells, so a remote traceback can show their lines (see `_errors`)."""
    try:
        from IPython import get_ipython

        from flyte_jupyter.kernel._errors import remember_sources

        shell = get_ipython()
        if shell is not None:
            remember_sources(shell)
    except Exception:
        pass


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
            run.state.wait_for_root_change(0.5)
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
        _describe_path(run, err)
        raise err.with_traceback(None) from None
    except (asyncio.CancelledError, concurrent.futures.CancelledError, ActionAbortedError):
        raise ActionAbortedError(f"run {run.name} was aborted") from None


def _describe_path(run: Any, err: ActionFailedError) -> None:
    """Name the failing action by its label and give the path of actions from the root to it
    (shown by `_errors.format_failure`)."""
    try:
        from flyte_jupyter.kernel._labels import path_labels

        actions = run.state.actions
        chain: list[str] = []
        name: str | None = err.action
        seen: set[str] = set()
        while name and name in actions and name not in seen:
            seen.add(name)
            chain.append(name)
            name = actions[name].parent
        chain.reverse()
        labels = path_labels(run, chain)
        err._flyte_label = labels.get(err.action)  # type: ignore[attr-defined]
        if len(chain) > 1:
            err._flyte_path = [labels.get(n, n) for n in chain]  # type: ignore[attr-defined]
    except Exception:  # the error itself must be shown whatever happens here
        pass
