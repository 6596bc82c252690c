"""What the test fixtures that run a real server as a child process share: stopping it by its PID
(a signal, a grace period, then SIGKILL), its log for failure messages, and the context-manager
protocol that stops a half-started server too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any


def dying_with_this_process(argv: list[str], signal_name: str = "KILL") -> list[str]:
    """`argv` for a server a test starts, made to end with this process, even by SIGKILL: the
    kernel sends it SIGKILL (or `signal_name`) when this process ends (PR_SET_PDEATHSIG, set by
    util-linux's `setpriv`, which then execs the server under the same pid), so a killed test run
    leaves no server behind.

    Not a `preexec_fn`: Python code between fork and exec, in a test process that holds gRPC's
    threads, now and then crashed the child (SIGSEGV in an at-fork handler, the server never
    started). The backend starts its own helpers the same way (`docker.engine.dying_with_us`)."""
    from flyte_jupyter.backend.plugins.docker.engine import dying_with_us

    if shutil.which("setpriv") is None:
        raise RuntimeError("setpriv (Debian's util-linux) is needed to tie a test's servers to the test run")
    return dying_with_us(argv, signal_name)


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
