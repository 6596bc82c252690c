"""An attempt that tells how long its process had existed when its body ran."""

import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="spares")


@env.task
def process_age(marker: str = "", seconds: float = 0.0) -> tuple[int, int, float]:
    """Its pid, its parent's (the template that forked it) and its process's age in seconds; with
    a `marker`, it writes its pid there and naps `seconds` before it returns."""
    with open("/proc/self/stat") as fh:
        started = int(fh.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as fh:
        now = float(fh.read().split()[0])
    if marker:
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(seconds)
    return os.getpid(), os.getppid(), now - started
