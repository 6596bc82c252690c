"""Launching a deployed task from the panel's Tasks view: the form's JSON inputs checked against
the types the registration recorded, then a run of the registered version.

The server has none of the task's code, so the types come from the registration (see
`_internal/deploy/typeexpr.py`): every value is checked by encoding it as declared, without
storage, before anything is written or sent, and the first that does not fit is refused with its
field and the type it needs. JSON has no dates: a `datetime`/`date` input takes ISO text, a
`timedelta` a number of seconds. The run then starts the way `flyte.run(task, **inputs)` starts a
`flyte.remote.Task` (`Task._submit_remote`): the registered spec, bundle and image, the registered
defaults of the inputs not given.
"""

from __future__ import annotations

import datetime as _dt
import typing
from typing import Any

_NONE = type(None)


class LaunchInputError(ValueError):
    """An input the task cannot take: `field` names it, `expected` is its registered type."""

    def __init__(self, message: str, field: str, expected: str) -> None:
        super().__init__(message)
        self.message, self.field, self.expected = message, field, expected


def _inner(tp: Any) -> Any:
    """`Optional[X]` -> X; any other type as it is."""
    if typing.get_origin(tp) is typing.Union:
        members = [a for a in typing.get_args(tp) if a is not _NONE]
        if len(members) == 1:
            return members[0]
    return tp


def _from_json(value: Any, tp: Any, where: str, type_text: str) -> Any:
    """The JSON value as the Python value the type takes where JSON has no form for it."""
    base = _inner(tp)
    if base in (_dt.datetime, _dt.date) and isinstance(value, str):
        try:
            return base.fromisoformat(value)
        except ValueError:
            example = "2026-12-01T12:00:00" if base is _dt.datetime else "2026-12-01"
            raise LaunchInputError(f"input {where!r} must be {type_text} as ISO text, like {example} "
                                   f"(got {value[:40]!r})", where, type_text) from None
    if base is _dt.timedelta and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.timedelta(seconds=value)
    return value


def typed_inputs(task: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The inputs for a run of `task` (a fetched `flyte.remote.Task`), each checked against its
    registered type; LaunchInputError for the first that is unknown, missing or of the wrong type."""
    from flyte_jupyter._internal.types import to_literal
    from flyte_jupyter.errors import TypeMismatchError

    declared = {i["name"]: i for i in task.inputs}
    types = task.interface.input_types
    for name in given:
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise LaunchInputError(f"task {task.name} has no input {name!r}; its inputs: {known}", name, "")
    values: dict[str, Any] = {}
    for name, item in declared.items():
        if name not in given:
            if not item["has_default"]:
                raise LaunchInputError(f"input {name!r} ({item['type']}) is required", name, item["type"])
            continue
        value = _from_json(given[name], types[name], name, item["type"])
        try:
            to_literal(value, types[name], name=name, task=task.name, convert=True)
        except TypeMismatchError as err:
            raise LaunchInputError(str(err), name, item["type"]) from None
        except (TypeError, ValueError) as err:
            raise LaunchInputError(f"input {name!r} of task {task.name} expects {item['type']}: {err}",
                                   name, item["type"]) from None
        values[name] = value
    return values


async def launch(client: Any, details: Any, given: dict[str, Any], *, run_name: str = "",
                 labels: dict[str, str] | None = None) -> str:
    """Start a run of the registered version `details` (a `RegisteredTask`) on `client` with the
    checked inputs; returns the new run's name. Backend refusals come out as `BackendError`."""
    import asyncio

    from flyte_jupyter._run import RunOptions
    from flyte_jupyter.remote._task import Task

    task = Task(details.id.name, details.id.project, details.id.domain, details.id.version, details=details,
                client=client)
    values = await asyncio.get_running_loop().run_in_executor(None, typed_inputs, task, given)
    options = RunOptions(mode="remote", name=run_name or None, labels=dict(labels or {}))
    run = await task._submit_remote(options, (), values)
    return str(run.name)


__all__ = ["LaunchInputError", "launch", "typed_inputs"]
