"""What a remote `%%flyte run` cell prints shows up under the cell, as it would for any cell.

The cell's body runs as the root action `a0` in another process; its output is captured by the
backend. While the cell waits, each attempt of `a0` is tailed (`TailLogs`, follow) on the remote
side's loop, and its lines are written to the cell's output from the kernel's own loop (so they
land under the right cell). A retried root shows a marker line before the next attempt's output. Tracebacks the action printed
on stderr are left out: the failure is shown once, cleaned, as the cell's error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo

ROOT = "a0"
_ENTRYPOINT_PREFIX = "[flyte-jupyter] "


class LogEcho:
    """Follows the root action's log of a remote run into the current cell's output."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self._loop = asyncio.get_running_loop()
        self._attempts: set[int] = set()
        self._in_traceback: dict[int, bool] = {}
        self._futures: list[concurrent.futures.Future] = []
        self._unsubscribe = run.state.subscribe(lambda _e, info: self._seen(info))
        root = run.state.get(ROOT)
        if root is not None:
            self._seen(root)

    def _seen(self, info: ActionInfo) -> None:
        # called on the thread that feeds the run's state
        if info.name != ROOT or info.attempts < 1:
            return
        if info.phase.value not in ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            return
        attempt = info.attempts
        if attempt in self._attempts:
            return
        self._attempts.add(attempt)
        from flyte_jupyter._internal.client.calls import background_loop

        self._futures.append(asyncio.run_coroutine_threadsafe(self._tail(attempt), background_loop()))

    async def _tail(self, attempt: int) -> None:
        run = self.run
        if attempt > 1:
            self._emit("stderr", f"--- {ROOT} attempt {attempt} ---")
        try:
            async for line in run.client.tail_logs(run.name, ROOT, attempt=attempt, follow=True,
                                                   project=run.project, domain=run.domain):
                if line.stream == "stderr" and self._traceback_line(attempt, line.text):
                    continue
                self._emit(line.stream, line.text)
        except Exception as exc:  # the log is a convenience; the run's result does not depend on it
            self._emit("stderr", f"(the output of {ROOT} could not be followed: {exc})")

    def _traceback_line(self, attempt: int, text: str) -> bool:
        """True for the lines of a printed traceback (header, frames, chaining, the final line) and
        for the entrypoint's own failure report."""
        if text.startswith("Traceback (most recent call last):"):
            self._in_traceback[attempt] = True
            return True
        if text.startswith(_ENTRYPOINT_PREFIX):  # the entrypoint's own report of the failure
            return True
        if not self._in_traceback.get(attempt):
            return False
        if not text.strip() or text.startswith((" ", "\t", "During handling", "The above exception")):
            return True
        self._in_traceback[attempt] = False  # "ValueError: ..." closes the block
        return True

    def _emit(self, stream: str, text: str) -> None:
        line = text if text.endswith("\n") else text + "\n"
        target = sys.stderr if stream == "stderr" else sys.stdout
        try:
            self._loop.call_soon_threadsafe(target.write, line)
        except RuntimeError:  # the kernel's loop is gone
            pass

    async def close(self, timeout: float = 10.0) -> None:
        """Stop watching for new attempts and let the running tails finish (bounded)."""
        self._unsubscribe()
        pending = [asyncio.wrap_future(f) for f in self._futures if not f.done()]
        if pending:
            done, not_done = await asyncio.wait(pending, timeout=timeout)
            for fut in not_done:
                fut.cancel()
        await asyncio.sleep(0)  # let the last scheduled writes run before the cell ends
