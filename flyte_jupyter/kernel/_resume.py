"""Resume a failed or aborted run with the notebook's current code (beyond Flyte 2's rerun).

The user fixes the failing task in a cell and resumes: the new run bundles the code the notebook
has now, and the backend recovers every action of the old run that succeeded with an unchanged
task (same name, so same inputs and call position; same per-task code digest) from its recorded
outputs (RECOVERED, linked to the old run); the changed tasks run, and so does whatever their new
outputs reach (its inputs changed, so its name did). `%flyte resume RUN` finds the old run's root
task in the notebook by name and gives it the inputs the old run recorded; a run whose root was a
`%%flyte run` cell is resumed by running that cell again with `--resume RUN`.
"""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.wire.models import Phase
from flyte_jupyter.kernel import _submit
from flyte_jupyter.kernel._errors import CellError

RESUMABLE = frozenset({Phase.FAILED, Phase.ABORTED, Phase.TIMED_OUT})
CELL_TASK = "notebook.cell"


def check_resumable(summary: Any) -> None:
    if summary.phase not in RESUMABLE:
        raise CellError(f"run {summary.name} is {summary.phase.value}: only a failed or aborted run can be "
                        f"resumed; `flyte.rerun({summary.name!r})` replays any run")


def notebook_task(namespace: dict[str, Any], name: str, run: str) -> Any:
    """The task called `name` as the notebook defines it now."""
    from flyte_jupyter._task import TaskTemplate

    if name == CELL_TASK:
        raise CellError(f"run {run} ran a `%%flyte run` cell: run that cell again as `%%flyte run --resume {run}`")
    for value in list(namespace.values()):
        if isinstance(value, TaskTemplate) and value.name == name:
            return value
    raise CellError(f"the notebook defines no task {name!r} (the root task of run {run}); run the cell that "
                    "defines it first")


def resume(shell: Any, run_name: str, target: _submit.Target) -> Any:
    """Start the resumed run of `run_name` (see the module docstring) and return it."""
    from flyte_jupyter._internal.client.calls import call
    from flyte_jupyter._internal.client.resolve import resolve_client
    from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_KEY
    from flyte_jupyter._internal.types import decode_inputs
    from flyte_jupyter.errors import BackendError

    client = resolve_client()
    try:
        summary, _ = call(lambda: client.get_run(run_name))
        check_resumable(summary)
        task = notebook_task(shell.user_ns, summary.task, run_name)
        _, _, data = call(lambda: client.get_action_spec(run_name, "a0", with_inputs=True))
    except BackendError as exc:
        raise CellError(f"cannot resume run {run_name}: {exc.message}") from None
    inputs = decode_inputs(data, task.interface.input_types) if data else {}
    inputs.pop(CUSTOM_CONTEXT_KEY, None)
    target.recover_from = run_name
    return _submit.start(task, (), inputs, target)


__all__ = ["RESUMABLE", "check_resumable", "notebook_task", "resume"]
