"""Where a task is running: the action, its run, the controller that launches its children.

A contextvar carries it, so concurrent children on one event loop, sync tasks on worker threads and
the entrypoint of a remote action all see their own action without passing it around.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from flyte_jupyter._internal.controllers.base import Controller


@dataclasses.dataclass(frozen=True)
class ActionID:
    """Identifies one action: its name is unique within its run."""

    name: str
    run_name: str
    project: str = "default"
    domain: str = "development"
    org: str = ""

    def __str__(self) -> str:
        return f"{self.run_name}/{self.name}"


@dataclasses.dataclass
class TaskContext:
    """What `flyte.ctx()` returns inside a task (Flyte 2's field names)."""

    action: ActionID
    mode: str  # "local" or "remote"
    version: str = ""
    raw_data_path: str = ""
    input_path: str = ""
    output_path: str = ""
    checkpoint_path: str = ""
    task_name: str = ""
    attempt: int = 1
    custom_context: dict[str, str] = dataclasses.field(default_factory=dict)
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    controller: "Controller | None" = dataclasses.field(default=None, repr=False)
    report: Any = dataclasses.field(default=None, repr=False)
    group: str | None = None

    @property
    def is_in_cluster(self) -> bool:
        return self.mode == "remote"

    def replace(self, **changes: Any) -> "TaskContext":
        return dataclasses.replace(self, **changes)


_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar("flyte_jupyter_ctx", default=None)


def ctx() -> TaskContext | None:
    """The context of the running task, or None outside of any task."""
    return _current.get()


@contextlib.contextmanager
def task_context(tc: TaskContext) -> Iterator[TaskContext]:
    """Make `tc` the current context for the duration of the block."""
    token = _current.set(tc)
    try:
        yield tc
    finally:
        _current.reset(token)


# -- custom context: key-value metadata that flows from an action to the actions it starts ---------


def get_custom_context() -> dict[str, str]:
    """The custom context of the running action (`with_runcontext(custom_context=...)` of its run,
    plus what `flyte.custom_context(...)` added around the call that started it); {} outside a task."""
    tc = _current.get()
    return dict(tc.custom_context) if tc is not None else {}


@contextlib.contextmanager
def custom_context(**context: str) -> Iterator[None]:
    """Add key-value pairs to the custom context of every action started inside this block (and,
    through them, of their descendants). Outside a task it does nothing, as in Flyte."""
    tc = _current.get()
    if tc is None:
        yield
        return
    bad = [k for k, v in context.items() if not isinstance(v, str)]
    if bad:
        raise TypeError(f"custom_context values must be strings; {bad} are not")
    token = _current.set(tc.replace(custom_context={**tc.custom_context, **context}))
    try:
        yield
    finally:
        _current.reset(token)


# -- project and domain ---------------------------------------------------------------------------------


def current_project() -> str:
    """The project of the running action, else of the client configuration ("default" unless
    `flyte.init(project=...)` or a config file says otherwise)."""
    tc = _current.get()
    if tc is not None and tc.action.project:
        return tc.action.project
    from flyte_jupyter import _config

    return _config.current().project


def current_domain() -> str:
    """The domain of the running action, else of the client configuration ("development" unless
    configured otherwise)."""
    tc = _current.get()
    if tc is not None and tc.action.domain:
        return tc.action.domain
    from flyte_jupyter import _config

    return _config.current().domain
