"""Attempts that end in the window between their result and their exit."""

import os
import signal
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="reports")


@env.task
def says_who(marker_dir: str, seconds: float) -> int:
    """Writes its pid and its parent's (the fork server or template that forked it), then naps."""
    with open(os.path.join(marker_dir, "who"), "w") as fh:
        fh.write(f"{os.getpid()} {os.getppid()}")
    time.sleep(seconds)
    return 7


@env.task(retries=2)
def commits_then_dies(marker_dir: str) -> int:
    """Puts its outputs.pb in place as the entrypoint does, then is SIGKILLed before it can exit."""
    from flyte_jupyter._internal.runtime.entrypoint import _write_outputs

    tc = flyte.ctx()
    assert tc is not None
    with open(os.path.join(marker_dir, f"attempt-{tc.attempt}"), "w") as fh:
        fh.write("ran")
    _write_outputs(tc.output_path, commits_then_dies, 5, tc.raw_data_path)
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


@env.task(retries=1)
def dies_before_its_result(marker_dir: str) -> int:
    """SIGKILLed in its first attempt before writing anything; the second returns."""
    tc = flyte.ctx()
    assert tc is not None
    with open(os.path.join(marker_dir, f"attempt-{tc.attempt}"), "w") as fh:
        fh.write("ran")
    if tc.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return tc.attempt


@env.task
def not_yet_imported() -> list[str]:
    """The modules an action's end needs that its process has not imported yet (a forked action
    inherits what its template imported: each one missing is imported again in every action)."""
    import sys

    wanted = ("flyte_jupyter._internal.runtime.scratch", "flyte_jupyter._internal.runtime.usage",
              "flyte_jupyter._internal.runtime.storage", "flyte_jupyter._internal.types")
    return [name for name in wanted if name not in sys.modules]
