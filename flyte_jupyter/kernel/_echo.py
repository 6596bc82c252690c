"""A remote run's output, followed into the run widget (and the cell, for the cell's own code).

Every action of a remote run prints on the backend, which keeps each attempt's log. While a view
follows the run, `LogFollower` reads the logs of the run's first `RUN_ACTIONS` actions to start in
one stream (`TailRunLogs`: each line tagged with its action and attempt, one action's attempts in
order), on the remote side's loop, into the run's `RunOutput` (see `_streams`): the widget shows
them as one capped stream, each line prefixed with its action, the same as for a local run, with a
marker line before each retry's output. One stream per run, not one per action: at 10,000 actions
a stream per action cost the kernel more than the widget's renders. The stream ends when the run
has ended and its logs are read; a stream broken by a backend restart is resumed where it broke.

The root action of a `%%flyte run` cell is the cell's own code: its first lines go to the cell's
output, written from the kernel's own loop so they land under the right cell, as any cell's
prints would (`RunOutput.echo_root`). Tracebacks the actions printed on stderr are left out:
each failure is shown once, cleaned, as the cell's error and in the failing action's details.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import time
from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.errors import BackendError
from flyte_jupyter.kernel._streams import RUN_ACTIONS, RunOutput

ROOT = "a0"
_RESUME_FOR = 60.0  # seconds a broken stream is retried (a backend restart): then the view says so
_ENTRYPOINT_PREFIX = "[flyte-jupyter] "
_STARTED = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")  # not RECOVERED: it never ran, has no log


class LogFollower:
    """Tails the logs of a remote run's actions into its RunOutput (and the root's into the cell)."""

    def __init__(self, run: Any, output: RunOutput, *, cell_loop: asyncio.AbstractEventLoop | None = None) -> None:
        from flyte_jupyter._internal.client.calls import background_loop

        self.run = run
        self.output = output
        self._cell_loop = cell_loop
        self._started: set[str] = set()  # actions seen started: those beyond RUN_ACTIONS are not followed
        self._in_traceback: dict[tuple[str, int], bool] = {}
        self._closed = False
        self._unsubscribe = run.state.subscribe(lambda _e, info: self._seen(info))
        for info in list(run.state.actions.values()):
            self._seen(info)
        self._future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(self._follow(), background_loop())

    @property
    def skipped(self) -> int:
        """Actions that started beyond the first RUN_ACTIONS: their output is not followed."""
        return max(0, len(self._started) - RUN_ACTIONS)

    def _seen(self, info: ActionInfo) -> None:
        if info.attempts >= 1 and info.phase.value in _STARTED:
            self._started.add(info.name)

    # -- the run's one log stream (on the remote loop) ---------------------------------------------

    async def _follow(self) -> None:
        run = self.run
        received: dict[str, tuple[int, int]] = {}  # action -> (its latest attempt, lines of it received)
        mid_line: set[tuple[str, int, str]] = set()  # (action, attempt, stream) whose line came in part so far
        broken_since: float | None = None
        while True:
            try:
                async for name, line in run.client.tail_run_logs(
                        run.name, RUN_ACTIONS, resume=received, project=getattr(run, "project", None),
                        domain=getattr(run, "domain", None)):
                    broken_since = None
                    attempt, count = received.get(name, (line.attempt, 0))
                    received[name] = (line.attempt, count + 1 if attempt == line.attempt else 1)
                    key = (name, line.attempt, line.stream)
                    whole = key not in mid_line and not line.partial
                    (mid_line.add if line.partial else mid_line.discard)(key)
                    if whole and line.stream == "stderr" and self._traceback_line((name, line.attempt), line.text):
                        continue
                    self._deliver(name, line.stream, line.text, line.attempt, ended=not line.partial)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the log is a convenience; the run's result does not depend on it
                now = time.monotonic()
                broken_since = now if broken_since is None else broken_since
                if isinstance(exc, BackendError) and exc.code == "UNAVAILABLE" and not self._closed \
                        and now - broken_since < _RESUME_FOR:
                    await asyncio.sleep(0.5)  # the backend restarts, the network blips: resume
                    continue
                self._deliver(ROOT, "stderr", f"(the output of run {run.name} could not be followed: {exc})", 1)
                return

    def _deliver(self, name: str, stream: str, text: str, attempt: int, ended: bool = True) -> None:
        """One line (`ended`), or a piece of one still being written (a progress bar's state)."""
        line = text + "\n" if ended and not text.endswith("\n") else text
        if self.output.write(name, stream, line, attempt):
            return
        loop = self._cell_loop  # the root's own lines: under the cell, like its prints
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(_write_to_cell, stream, line)
        except RuntimeError:  # the kernel's loop is gone
            pass

    def _traceback_line(self, key: tuple[str, int], text: str) -> bool:
        """True for the lines of a printed traceback (header, frames, chaining, the final line) and
        for the entrypoint's own failure report."""
        if text.startswith("Traceback (most recent call last):"):
            self._in_traceback[key] = True
            return True
        if text.startswith(_ENTRYPOINT_PREFIX):
            return True
        if not self._in_traceback.get(key):
            return False
        if not text.strip() or text.startswith((" ", "\t", "During handling", "The above exception")):
            return True
        self._in_traceback[key] = False  # "ValueError: ..." closes the block
        return True

    # -- the end -----------------------------------------------------------------------------------

    def drain(self, timeout: float) -> bool:
        """Block until the run's log stream is read to its end (the run has ended), at most `timeout` s."""
        done, _ = concurrent.futures.wait([self._future], timeout)
        return bool(done)

    async def settle_root(self, timeout: float = 10.0) -> None:
        """Await the run's logs (the root's lines are the cell's own output) before the cell ends."""
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._future)), timeout)
        except (asyncio.TimeoutError, Exception):
            pass
        await asyncio.sleep(0)  # let the last scheduled writes run before the cell ends

    def close(self, cancel: bool = False) -> None:
        """Stop counting started actions; with `cancel`, stop reading the run's logs too."""
        self._closed = True
        self._unsubscribe()
        if cancel:
            self._future.cancel()


def _write_to_cell(stream: str, text: str) -> None:
    (sys.stderr if stream == "stderr" else sys.stdout).write(text)
