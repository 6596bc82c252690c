"""The local controller: every task call in a local run becomes an action run in this process.

Children run concurrently on asyncio (sync bodies on worker threads) with the same action names,
cache, retries, timeouts and events as a remote run, so the same views render both.

Structured concurrency, as on the backend: when an attempt of a parent ends (returns, fails, or is
cancelled), the children it started that are still queued or running are aborted (the asyncio task
awaiting each is cancelled, on whichever loop it runs) and end ABORTED before the parent's own end is
recorded, so the run ends when its root ends. Cancelling the asyncio task that awaits a child aborts
that child.
Failures reach the parent as the classes `errors.action_failure` picks, the same as in remote mode.
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
from flyte_jupyter._internal.runtime.code_origins import format_traceback
from flyte_jupyter._internal.runtime.naming import child_action_name
from flyte_jupyter._internal.wire.models import ActionError, ActionEvent, Phase
from flyte_jupyter.errors import (
    ActionAbortedError,
    ActionFailedError,
    NonRecoverableError,
    TypeMismatchError,
    action_failure,
    error_code,
)

_PARENT_ENDED = "aborted: its parent action ended"


class _AttemptTimedOut(Exception):
    """One attempt ran past its max_runtime (or the task's deadline); never seen by users."""

    def __init__(self, message: str, kind: str = "TimeoutError") -> None:
        super().__init__(message)
        self.kind = kind


class _Child:
    """A child in flight: the asyncio task that awaits it (a gather's or create_task's own task, or
    the caller's), that task's loop, the child's name, and whether it is still running."""

    __slots__ = ("task", "loop", "name", "live")

    def __init__(self, task: asyncio.Task | None, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.task, self.loop, self.name, self.live = task, loop, name, True


class LocalController(Controller):
    def __init__(self, state: RunState, *, cache: Any = None, overwrite_cache: bool = False) -> None:
        self.state = state
        self.cache = cache
        self.overwrite_cache = overwrite_cache
        self._seq: dict[str, itertools.count] = {}
        self._seq_lock = threading.Lock()
        # (parent action, attempt) -> its children in flight; parents whose attempt has ended
        self._children: dict[tuple[str, int], list[_Child]] = {}
        self._ended: set[tuple[str, int]] = set()
        self._aborted_by_parent: set[str] = set()

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
        owner = (parent.action.name, parent.attempt)
        if owner in self._ended:  # e.g. a sync body still running in its thread after a timeout
            raise ActionAbortedError(f"action {parent.action.name} has ended; it cannot start {task.name}",
                                     action=parent.action.name, task=task.name)
        inputs = task.bind(args, kwargs)
        literals = to_literal_map(inputs, task.interface.input_types, task=task.name)
        name = child_action_name(parent.action.name, task.name, literal_map_hash(literals),
                                 self._next_seq(parent.action.name))
        child = parent.replace(action=ActionID(name, parent.action.run_name, parent.action.project,
                                               parent.action.domain, parent.action.org),
                               group=current_group())
        # The task awaiting this call is the child's handle: when the parent ends first, cancelling it
        # aborts the child (the parent's own body task cannot be it: a parent that awaits a child
        # directly cannot end before the child does, except by being cancelled, which reaches the child).
        record = _Child(asyncio.current_task(), asyncio.get_running_loop(), name)
        with self._seq_lock:
            kids = self._children.setdefault(owner, [])
            kids.append(record)
            if len(kids) % 1024 == 0:  # a long-lived parent: forget children that have ended
                kids[:] = [k for k in kids if k.live]
        try:
            return await self._run_action(task, child, parent.action.name, inputs, literals)
        finally:
            record.live = False

    async def _end_children(self, owner: tuple[str, int]) -> None:
        """The attempt `owner` has ended: abort the children it left queued or running, and wait
        (up to 10 s) until they have ended."""
        with self._seq_lock:
            self._ended.add(owner)
            kids = self._children.pop(owner, None)
        if not kids:
            return
        live = [k for k in kids if k.live and k.task is not None and not k.task.done()]
        if not live:
            return
        here = asyncio.get_running_loop()
        mine: list[asyncio.Task] = []
        others: list[_Child] = []
        for kid in live:
            task = kid.task
            if task is None:
                continue
            self._aborted_by_parent.add(kid.name)
            if kid.loop is here:
                task.cancel()
                mine.append(task)
            else:
                try:
                    kid.loop.call_soon_threadsafe(task.cancel)
                except RuntimeError:  # its loop has closed: nothing left to stop
                    continue
                others.append(kid)
        if mine:
            await asyncio.wait(mine, timeout=10)
        deadline = time.monotonic() + 10
        while others and time.monotonic() < deadline:  # children on other loops (a sync parent's)
            others = [k for k in others if k.live]
            if others:
                await asyncio.sleep(0.01)

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
        deadline_s = task.timeout.deadline_seconds if task.timeout else None
        deadline = time.monotonic() + deadline_s if deadline_s else None
        for attempt in range(1, max_attempts + 1):
            self._emit(tc, task.name, parent, Phase.RUNNING, attempt, group=group)
            attempt_tc = tc.replace(attempt=attempt, task_name=task.name, controller=self,
                                    report=_new_report(task, tc))
            owner = (tc.action.name, attempt)
            try:
                try:
                    result = await _run_attempt(task, inputs, attempt_tc, timeout, deadline)
                    output_literal = self._check_output(task, tc, result)
                finally:
                    await self._end_children(owner)
            except asyncio.CancelledError:
                reason = "the run was aborted"
                if tc.action.name in self._aborted_by_parent:
                    self._aborted_by_parent.discard(tc.action.name)
                    reason = _PARENT_ENDED
                self._emit(tc, task.name, parent, Phase.ABORTED, attempt,
                           error=ActionError("Aborted", reason, retryable=False), group=group)
                raise
            except BaseException as exc:  # noqa: BLE001 - user code may raise anything
                phase, error, failure = _describe_failure(exc, task, tc, attempt, max_attempts, timeout)
                self._emit(tc, task.name, parent, phase, attempt, error=error, group=group)
                delay = task.retries.delay(attempt)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    error.retryable = False
                if attempt < max_attempts and error.retryable:
                    await asyncio.sleep(delay)
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


class TypeMismatchErrorFromTask(TypeMismatchError):
    """A task returned a value of the wrong type; not retryable."""


async def _run_attempt(task: Any, inputs: dict[str, Any], tc: TaskContext, timeout: float | None,
                       deadline: float | None = None) -> Any:
    async def body() -> Any:
        _context._current.set(tc)  # this coroutine runs in its own asyncio task, so its own context
        if getattr(task, "secrets", None):
            from flyte_jupyter._internal.controllers.local_secrets import provided

            async with provided(task):  # before its code: a missing secret fails it without running it
                return await task.execute(**inputs)
        return await task.execute(**inputs)

    limit, kind = timeout, "TimeoutError"
    if deadline is not None:
        left = max(0.0, deadline - time.monotonic())
        if limit is None or left < limit:
            limit, kind = left, "DeadlineExceededError"
    runner = asyncio.ensure_future(body())
    if limit is None:
        try:
            return await asyncio.shield(runner)
        except asyncio.CancelledError:
            runner.cancel()
            raise
    try:
        return await asyncio.wait_for(runner, limit)
    except asyncio.TimeoutError:
        if kind == "DeadlineExceededError":
            raise _AttemptTimedOut(f"did not end within its deadline of {deadline_text(task)}", kind) from None
        raise _AttemptTimedOut(f"timed out after {limit:g} s") from None


def deadline_text(task: Any) -> str:
    seconds = task.timeout.deadline_seconds if task.timeout else None
    return f"{seconds:g} s" if seconds else "?"


def _new_report(task: Any, tc: TaskContext) -> Any:
    if not task.report:
        return None
    from flyte_jupyter.report._report import Report

    return Report.for_action(tc)


def _describe_failure(exc: BaseException, task: Any, tc: TaskContext, attempt: int, max_attempts: int,
                      timeout: float | None) -> tuple[Phase, ActionError, BaseException]:
    """The phase and error to record, and the exception the caller should see (the class
    `errors.action_failure` picks, as the remote controller does for a child on the backend)."""
    if isinstance(exc, ActionFailedError) and exc.action:
        # A child failed and this action did not handle it: keep naming the deepest failing action.
        error = ActionError(exc.kind, exc.message, exc.traceback, retryable=True)
        return Phase.FAILED, error, exc
    if isinstance(exc, _AttemptTimedOut):
        retryable = exc.kind != "DeadlineExceededError"
        error = ActionError(exc.kind, str(exc), retryable=retryable)
        failure = action_failure(action=tc.action.name, task=task.name, kind=exc.kind, message=str(exc),
                                 attempts=attempt, max_attempts=max_attempts, phase=Phase.TIMED_OUT.value)
        return Phase.TIMED_OUT, error, failure
    retryable = not isinstance(exc, (TypeMismatchErrorFromTask, ActionAbortedError, NonRecoverableError))
    text = format_traceback(exc)  # the cells of code from a pickle bundle named, as in an action
    kind = error_code(exc)
    message = str(exc)
    if kind == "OOMKilled" and isinstance(exc, MemoryError):
        message = f"the task ran out of memory (OOM): {message or 'MemoryError'}"
    error = ActionError(kind, message, text, retryable=retryable)
    failure = action_failure(action=tc.action.name, task=task.name, kind=kind, message=message,
                             attempts=attempt, max_attempts=max_attempts, traceback=text)
    return Phase.FAILED, error, failure
