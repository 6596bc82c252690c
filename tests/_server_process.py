"""What the test fixtures that run a real server as a child process share: stopping it by its PID
(a signal, a grace period, then SIGKILL), its log for failure messages, and the context-manager
protocol that stops a half-started server too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Callable


def dies_with_this_process() -> Callable[[], None]:
    """A `preexec_fn` for a server a test starts: the kernel SIGKILLs the server when this process
    ends, even by SIGKILL (PR_SET_PDEATHSIG), so a killed test run leaves no server behind."""
    from flyte_jupyter.backend.plugins.local.procfs import die_with_parent

    parent = os.getpid()
    return lambda: die_with_parent(parent)


class ServerProcess:
    """A server child process with a private directory. Subclasses set `dir` and `proc`, name the
    log file (`log_name`), the polite stop signal and its grace period, and define `start()`."""

    log_name = "server.log"
    stop_signal = signal.SIGTERM
    stop_grace = 10.0

    dir: Path
    proc: subprocess.Popen | None

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return (self.dir / self.log_name).read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Any:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()
