"""The local controller: every task call in a local run becomes an action run in this process.

Children run concurrently on asyncio (sync bodies on worker threads) with the same action names,
cache, retries, timeouts and events as a remote run, so the same views render both.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import traceback as tb
from typing import Any, Awaitable, Callable

from flyte_jupyter import _context
from flyte_jupyter._context import ActionID, TaskContext
from flyte_jupyter._internal.controllers.base import Controller
from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.runtime.naming import child_action_name
from flyte_jupyter._internal.wire.models import ActionError, ActionEvent, Phase
from flyte_jupyter.errors import ActionAbortedError, ActionFailedError, TaskTimeoutError


class LocalController(Controller):
    def __init__(self, state: RunState, *, cache: Any = None, overwrite_cache: bool = False) -> None:
        self.state = state
        self.cache = cache
        self.overwrite_cache = overwrite_cache
        self._seq: dict[str, itertools.count] = {}
        self._seq_lock = threading.Lock()

    # -- naming ---------------------------------------------------------------------------------

    def _next_seq(self, parent: str) -> int:
        with self._seq_lock:
            counter = self._seq.get(parent)
            if counter is None:
                counter = self._seq[parent] = itertools.count()
            return next(counter)

    def _emit(self, tc: TaskContext, task: str, parent: str | None, phase: Phase, attempt: int,
              error: ActionError | None = None, cache_hit: bool = False, group: str | None = None) -> None:
        self.state.apply(ActionEvent(
            run_name=tc.action.run_name, action=tc.action.name, task=task, parent=parent, phase=phase,
            attempt=attempt, timestamp=time.time(), error=error, cache_hit=cache_hit, group=group,
        ))

    # -- entry points -------------------------------------------------------------------------

    async def run_root(self, task: Any, inputs: dict[str, Any], literals: Any, root: TaskContext) -> Any:
        """Run the root action `a0`; inputs were already checked (and converted) by the caller."""
        return await self._run_action(task, root, None, inputs, literals)

    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        from flyte_jupyter._group import current_group
        from flyte_jupyter._internal.types import literal_map_hash, to_literal_map

        parent = _context.ctx()
        if parent is None:
            raise RuntimeError(f"task {task.name} was submitted outside of a running action")
        inputs = task.bind(args, kwargs)
        literals = to_literal_map(inputs, task.interface.input_types, task=task.name)
        name = child_action_name(parent.action.name, task.name, literal_map_hash(literals),
                                 self._next_seq(parent.action.name))
        child = parent.replace(action=ActionID(name, parent.action.run_name, parent.action.project,
                                               parent.action.domain, parent.action.org),
                               group=current_group())
        return await self._run_action(task, child, parent.action.name, inputs, literals)

    # -- one action -----------------------------------------------------------------------------

    def _cache_key(self, task: Any, literals: Any) -> tuple[str, str, str] | None:
        if not task.cache.enabled or self.cache is None:
            return None
        from flyte_jupyter._internal.types import literal_map_hash

        ignored = set(task.cache.ignored_inputs)
        if ignored:
            import copy

            literals = copy.deepcopy(literals)
            for key in ignored:
                if key in literals.literals:
                    del literals.literals[key]
        return task.name, task.cache_version(), literal_map_hash(literals)

    async def _run_action(self, task: Any, tc: TaskContext, parent: str | None,
                          inputs: dict[str, Any], literals: Any) -> Any:
        group = tc.group
        self._emit(tc, task.name, parent, Phase.QUEUED, 0, group=group)
        self.state.annotate(tc.action.name, inputs=inputs)
        key = self._cache_key(task, literals)
        if key is not None and not self.overwrite_cache:
            cached = self.cache.get(*key)
            if cached is not None:
                from flyte_jupyter._internal.types import from_literal
                from flyte_jupyter._internal.wire.proto import literals_pb2

                lit = literals_pb2.Literal()
                lit.ParseFromString(cached)
                value = from_literal(lit, task.interface.output)
                self.state.annotate(tc.action.name, outputs=value)
                self._emit(tc, task.name, parent, Phase.SUCCEEDED, 1, cache_hit=True, group=group)
                return value

        max_attempts = task.retries.count + 1
        timeout = task.timeout.runtime_seconds if task.timeout else None
        for attempt in range(1, max_attempts + 1):
            self._emit(tc, task.name, parent, Phase.RUNNING, attempt, group=group)
            attempt_tc = tc.replace(attempt=attempt, task_name=task.name, controller=self,
                                    report=_new_report(task, tc))
            try:
                result = await _run_attempt(task, inputs, attempt_tc, timeout)
                output_literal = self._check_output(task, tc, result)
            except asyncio.CancelledError:
                self._emit(tc, task.name, parent, Phase.ABORTED, attempt,
                           error=ActionError("Aborted", "the run was aborted", retryable=False), group=group)
                raise
            except BaseException as exc:  # noqa: BLE001 - user code may raise anything
                phase, error, failure = _describe_failure(exc, task, tc, attempt, max_attempts, timeout)
                self._emit(tc, task.name, parent, phase, attempt, error=error, group=group)
                if attempt < max_attempts and error.retryable:
                    await asyncio.sleep(task.retries.delay(attempt))
                    self._emit(tc, task.name, parent, Phase.QUEUED, attempt, group=group)
                    continue
                raise failure from (exc if failure is not exc else exc.__cause__)
            if key is not None and output_literal is not None:
                self.cache.put(*key, output_literal.SerializeToString(), tc.action.run_name, tc.action.name)
            if attempt_tc.report is not None:
                attempt_tc.report.flush()
            self.state.annotate(tc.action.name, outputs=result)
            self._emit(tc, task.name, parent, Phase.SUCCEEDED, attempt, group=group)
            return result
        raise AssertionError("unreachable")

    def _check_output(self, task: Any, tc: TaskContext, result: Any) -> Any:
        from flyte_jupyter._internal.types import to_literal
        from flyte_jupyter.errors import TypeMismatchError

        if not task.interface.has_output:
            return None
        try:
            return to_literal(result, task.interface.output, name="output", task=task.name)
        except TypeMismatchError as exc:
            raise TypeMismatchErrorFromTask(str(exc)) from None

    async def record_trace(self, name: str, func: Callable[[], Awaitable[Any]], inputs: dict[str, Any]) -> Any:
        import hashlib

        parent = _context.ctx()
        if parent is None:
            return await func()
        digest = hashlib.sha256(repr(sorted(inputs.items())).encode()).hexdigest()
        action = child_action_name(parent.action.name, f"trace:{name}", digest, self._next_seq(parent.action.name))
        tc = parent.replace(action=ActionID(action, parent.action.run_name, parent.action.project,
                                            parent.action.domain, parent.action.org))
        task_name = f"trace:{name}"
        self._emit(tc, task_name, parent.action.name, Phase.RUNNING, 1)
        try:
            result = await func()
        except BaseException as exc:
            self._emit(tc, task_name, parent.action.name, Phase.FAILED, 1,
                       error=ActionError(type(exc).__name__, str(exc), tb.format_exc(), retryable=False))
            raise
        self._emit(tc, task_name, parent.action.name, Phase.SUCCEEDED, 1)
        return result


class TypeMismatchErrorFromTask(TypeError):
    """A task returned a value of the wrong type; not retryable."""


async def _run_attempt(task: Any, inputs: dict[str, Any], tc: TaskContext, timeout: float | None) -> Any:
    async def body() -> Any:
        _context._current.set(tc)  # this coroutine runs in its own asyncio task, so its own context
        return await task.execute(**inputs)

    runner = asyncio.ensure_future(body())
    if timeout is None:
        try:
            return await asyncio.shield(runner)
        except asyncio.CancelledError:
            runner.cancel()
            raise
    try:
        return await asyncio.wait_for(runner, timeout)
    except asyncio.TimeoutError:
        raise TaskTimeoutError(f"timed out after {timeout:g} s") from None


def _new_report(task: Any, tc: TaskContext) -> Any:
    if not task.report:
        return None
    from flyte_jupyter.report._report import Report

    return Report.for_action(tc)


def _describe_failure(exc: BaseException, task: Any, tc: TaskContext, attempt: int, max_attempts: int,
                      timeout: float | None) -> tuple[Phase, ActionError, BaseException]:
    """The phase and error to record, and the exception the caller should see."""
    if isinstance(exc, ActionFailedError):
        # A child failed and this action did not handle it: keep naming the deepest failing action.
        error = ActionError(exc.kind, exc.message, exc.traceback, retryable=True)
        return Phase.FAILED, error, exc
    if isinstance(exc, TaskTimeoutError):
        error = ActionError("TaskTimeoutError", str(exc), retryable=True)
        failure = ActionFailedError(action=tc.action.name, task=task.name, kind="TaskTimeoutError",
                                    message=str(exc), attempts=attempt, max_attempts=max_attempts,
                                    phase=Phase.TIMED_OUT.value)
        return Phase.TIMED_OUT, error, failure
    retryable = not isinstance(exc, (TypeMismatchErrorFromTask, ActionAbortedError))
    text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    error = ActionError(type(exc).__name__, str(exc), text, retryable=retryable)
    failure = ActionFailedError(action=tc.action.name, task=task.name, kind=type(exc).__name__,
                                message=str(exc), attempts=attempt, max_attempts=max_attempts, traceback=text)
    return Phase.FAILED, error, failure

