"""A remote run's output, followed into the run widget (and the cell, for the cell's own code).

Every action of a remote run prints on the backend, which keeps each attempt's log. While a view
follows the run, `LogFollower` tails (`TailLogs`, follow) the log of every attempt of every action
as it starts, on the remote side's loop, at most `MAX_STREAMS` actions at a time and at most
`RUN_ACTIONS` actions per run, into the run's `RunOutput` (see `_streams`): the widget shows them
as one capped stream, each line prefixed with its action, the same as for a local run. An attempt
that has already ended when its turn comes is read once (the backend ends a follow at once then).
One action's attempts are read in order, with a marker line before each retry's output.

The root action of a `%%flyte run` cell is the cell's own code: its first lines go to the cell's
output, written from the kernel's own loop so they land under the right cell, as any cell's
prints would (`RunOutput.echo_root`). Tracebacks the actions printed on stderr are left out:
each failure is shown once, cleaned, as the cell's error and in the failing action's details.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._streams import RUN_ACTIONS, RunOutput

ROOT = "a0"
MAX_STREAMS = 8
_ENTRYPOINT_PREFIX = "[flyte-jupyter] "
_STARTED = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")  # not RECOVERED: it never ran, has no log


class LogFollower:
    """Tails the logs of a remote run's actions into its RunOutput (and the root's into the cell)."""

    def __init__(self, run: Any, output: RunOutput, *, cell_loop: asyncio.AbstractEventLoop | None = None) -> None:
        from flyte_jupyter._internal.client.calls import background_loop

        self.run = run
        self.output = output
        self.skipped = 0  # actions beyond RUN_ACTIONS: not followed
        self._cell_loop = cell_loop
        self._loop = background_loop()
        self._lock = threading.Lock()
        self._wanted: dict[str, int] = {}  # action -> the latest attempt seen started
        self._done: dict[str, int] = {}  # action -> the last attempt read
        self._queue: list[str] = []
        self._active: dict[str, concurrent.futures.Future] = {}
        self._followed: set[str] = set()
        self._in_traceback: dict[tuple[str, int], bool] = {}
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._unsubscribe = run.state.subscribe(lambda _e, info: self._seen(info))
        for info in run.state.actions.values():
            self._seen(info)

    # -- which attempts to read (called on the thread that feeds the run's state) -----------------

    def _seen(self, info: ActionInfo) -> None:
        if info.attempts < 1 or info.phase.value not in _STARTED or self._closed:
            return
        name = info.name
        with self._lock:
            if self._wanted.get(name, 0) >= info.attempts:
                return
            if name not in self._followed:
                if len(self._followed) >= RUN_ACTIONS:
                    if name not in self._wanted:
                        self.skipped += 1
                        self._wanted[name] = 0
                    return
                self._followed.add(name)
            self._wanted[name] = info.attempts
            if name not in self._active and name not in self._queue:
                self._queue.append(name)
                self._idle.clear()
        try:
            self._loop.call_soon_threadsafe(self._pump)
        except RuntimeError:  # the loop is gone (interpreter exit)
            pass

    def _pump(self) -> None:
        """Start readers while there are free streams (on the remote loop)."""
        with self._lock:
            while self._queue and len(self._active) < MAX_STREAMS and not self._closed:
                name = self._queue.pop(0)
                self._active[name] = asyncio.run_coroutine_threadsafe(self._read_action(name), self._loop)
            if not self._queue and not self._active:
                self._idle.set()

    async def _read_action(self, name: str) -> None:
        try:
            while not self._closed:
                with self._lock:
                    attempt = self._done.get(name, 0) + 1
                    if attempt > self._wanted.get(name, 0):
                        break
                await self._read(name, attempt)
                with self._lock:
                    self._done[name] = attempt
        finally:
            with self._lock:
                self._active.pop(name, None)
                again = self._wanted.get(name, 0) > self._done.get(name, 0) and not self._closed
                if again and name not in self._queue:
                    self._queue.append(name)
            self._pump()

    async def _read(self, name: str, attempt: int) -> None:
        run = self.run
        try:
            mid_line: set[str] = set()  # streams whose line arrived in part so far
            async for line in run.client.tail_logs(run.name, name, attempt=attempt, follow=True,
                                                   project=getattr(run, "project", None),
                                                   domain=getattr(run, "domain", None), partial_lines=True):
                whole = line.stream not in mid_line and not line.partial
                (mid_line.add if line.partial else mid_line.discard)(line.stream)
                if whole and line.stream == "stderr" and self._traceback_line((name, attempt), line.text):
                    continue
                self._deliver(name, line.stream, line.text, attempt, ended=not line.partial)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the log is a convenience; the run's result does not depend on it
            self._deliver(name, "stderr", f"(the output of {name} could not be followed: {exc})", attempt)

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
        """Block until every started reader is done (the run has ended), at most `timeout` s."""
        return self._idle.wait(timeout)

    async def settle_root(self, timeout: float = 10.0) -> None:
        """Await the root's log (the cell's own output) before the cell ends."""
        with self._lock:
            fut = self._active.get(ROOT)
        if fut is not None:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
            except (asyncio.TimeoutError, Exception):
                pass
        await asyncio.sleep(0)  # let the last scheduled writes run before the cell ends

    def close(self, cancel: bool = False) -> None:
        """Stop watching for new attempts; with `cancel`, stop the readers too."""
        self._closed = True
        self._unsubscribe()
        if cancel:
            with self._lock:
                active = list(self._active.values())
                self._queue.clear()
            for fut in active:
                fut.cancel()
            self._idle.set()


def _write_to_cell(stream: str, text: str) -> None:
    (sys.stderr if stream == "stderr" else sys.stdout).write(text)
