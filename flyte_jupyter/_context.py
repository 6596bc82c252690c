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
