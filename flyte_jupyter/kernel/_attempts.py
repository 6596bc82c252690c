"""Every attempt of an action: when it started and ended, how it ended, its error, and the
backoff before the next one.

A backend records every attempt and sends them with each action (`ActionInfo.attempt_history`),
so a view that attaches to a run late (`%flyte status`, a widget after a kernel restart) shows
earlier attempts' errors and times too. A local run reports every step as an event instead
(RUNNING attempt k, FAILED with its error, the backoff, QUEUED, RUNNING attempt k+1): `AttemptBook`
listens to them and keeps the history, a dictionary entry per action that was retried or failed.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Any

MAX_REMEMBERED = 50


@dataclasses.dataclass
class Attempt:
    number: int
    started_at: float | None = None
    ended_at: float | None = None
    phase: str = "RUNNING"
    error: Any = None  # an ActionError
    backoff: float | None = None  # seconds between this attempt's end and the next one's start

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.ended_at or time.time()) - self.started_at)


class AttemptBook:
    """Per action, the attempts seen; fed by `run.state` events on the producer's thread."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self._lock = threading.Lock()
        self._starts: dict[str, dict[int, float]] = {}
        self._history: dict[str, dict[int, Attempt]] = {}
        self._unsubscribe = run.state.subscribe(self._on_event)

    def _on_event(self, event: Any, info: Any) -> None:
        phase = event.phase.value
        attempt = event.attempt
        if phase in ("RUNNING", "INITIALIZING") and attempt >= 1:
            if attempt == 1 and event.error is None and event.action not in self._history:
                return  # the common case: a first attempt starting, nothing to remember yet
            with self._lock:
                hist = self._history.setdefault(event.action, {})
                att = hist.get(attempt)
                if att is None:
                    att = hist[attempt] = Attempt(attempt, started_at=event.timestamp)
                    prev = hist.get(attempt - 1)
                    if prev is not None and prev.ended_at is not None and event.timestamp:
                        prev.backoff = max(0.0, event.timestamp - prev.ended_at)
            return
        failed_retry = phase == "QUEUED" and event.error is not None and attempt >= 1
        if not (event.phase.terminal or failed_retry) or attempt < 1:
            return
        if phase == "SUCCEEDED" and attempt == 1 and event.action not in self._history:
            return
        with self._lock:
            hist = self._history.setdefault(event.action, {})
            att = hist.get(attempt)
            if att is None:
                att = hist[attempt] = Attempt(attempt, started_at=info.started_at if attempt == info.attempts else None)
            if att.ended_at is not None and failed_retry:
                return  # the local controller's QUEUED after the FAILED it already reported
            ended = event.timestamp if event.phase.terminal else time.time()
            att.ended_at = ended
            att.phase = "FAILED" if failed_retry else phase
            if event.error is not None and not event.phase.succeeded:
                att.error = event.error

    def attempts(self, info: Any) -> list[Attempt]:
        """The attempts of one action, oldest first: the backend's record when there is one, else
        what this book saw (the latest from the action's state if nothing was seen)."""
        if info.attempt_history:
            return [Attempt(a.number, a.started_at, a.ended_at, a.phase.value,
                            a.error if a.phase.value != "SUCCEEDED" else None, a.backoff)
                    for a in info.attempt_history]
        with self._lock:
            hist = dict(self._history.get(info.name, {}))
        n = max([info.attempts, *hist.keys()] or [0])
        out: list[Attempt] = []
        for number in range(1, n + 1):
            att = hist.get(number)
            if att is None:
                att = Attempt(number, phase="?")
                if number == info.attempts:
                    att = Attempt(number, info.started_at, info.ended_at, info.phase.value,
                                  info.error if not info.phase.succeeded else None)
            elif number == info.attempts and info.phase.terminal and att.ended_at is None:
                att = dataclasses.replace(att, ended_at=info.ended_at, phase=info.phase.value)
            out.append(att)
        return out

    def failed_before(self, info: Any) -> int:
        """How many earlier attempts failed (shown on the row of a retried action)."""
        return max(0, info.attempts - 1) if info.attempts > 1 else 0

    def close(self) -> None:
        self._unsubscribe()


_books: "collections.OrderedDict[str, AttemptBook]" = collections.OrderedDict()
_books_lock = threading.Lock()


def book_for(run: Any) -> AttemptBook:
    """The attempt history of a run, started on first use (the kernel starts it together with the
    run, so that no attempt is missed)."""
    with _books_lock:
        book = _books.get(run.name)
        if book is None or book.run is not run:
            old = book
            book = _books[run.name] = AttemptBook(run)
            if old is not None:  # the same run seen again (`%flyte status`): keep what was seen
                with old._lock:
                    book._history = {k: dict(v) for k, v in old._history.items()}
                old.close()
            while len(_books) > MAX_REMEMBERED:
                _books.popitem(last=False)[1].close()
        return book
