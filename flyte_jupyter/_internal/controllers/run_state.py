"""The live copy of one run's actions, fed by phase-change events and watched by views.

The local controller and the remote informer both feed a RunState; widgets, the text view and the
side panel subscribe to it, so every view works for local and remote runs alike.
"""

from __future__ import annotations

import threading
from typing import Callable

from flyte_jupyter._internal.wire.models import ActionEvent, ActionInfo, Phase

Listener = Callable[[ActionEvent, ActionInfo], None]


class RunState:
    """Thread-safe: events may arrive from the controller's loop, worker threads or a watch stream."""

    def __init__(self, run_name: str) -> None:
        self.run_name = run_name
        self._actions: dict[str, ActionInfo] = {}
        # per parent name (None: none), its children in the order they appeared: kept here so a
        # tree view of a big run does not index every action again at each render
        self._children: dict[str | None, list[ActionInfo]] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        # Waiters (`Run.wait`, `outputs()`) care about the root action only: they are woken by its
        # changes alone, not by each of a fan-out's thousands (a thread switch each, ~0.1 ms).
        self._root_changed = threading.Condition(self._lock)
        self.version = 0  # counts changes of any action (views compare it)
        self.root_version = 0  # counts changes of the root: see `wait_for_root_change`

    def apply(self, event: ActionEvent) -> ActionInfo:
        with self._lock:
            info = self._actions.get(event.action)
            if info is None:
                info = ActionInfo(name=event.action, task=event.task, parent=event.parent,
                                  run_name=event.run_name, group=event.group, task_type=event.task_type)
                self._actions[event.action] = info
                self._children.setdefault(event.parent, []).append(info)
            if event.outputs_uri:
                info.outputs_uri = event.outputs_uri
            info.phase = event.phase
            info.attempts = max(info.attempts, event.attempt)
            if event.started_at is not None:  # the producer's own start (first attempt's)
                info.started_at = event.started_at
            elif event.phase in (Phase.RUNNING, Phase.INITIALIZING) and info.started_at is None:
                info.started_at = event.timestamp
            if event.phase.terminal:
                info.ended_at = event.ended_at if event.ended_at is not None else event.timestamp
                if info.started_at is None:
                    info.started_at = info.ended_at
            else:
                info.ended_at = None  # a failed attempt's end is not the action's: it goes on
            if event.phase is Phase.SUCCEEDED:
                info.error = None  # an earlier attempt's error is history now (attempt_history)
            elif event.error is not None:
                info.error = event.error
            if event.attempts:
                info.attempt_history = event.attempts
            info.cache_hit = info.cache_hit or event.cache_hit
            if event.recovered_from:
                info.recovered_from = event.recovered_from
            if len(event.usage) > len(info.usage):
                info.usage = event.usage
            if event.queued_at is not None and info.queued_at is None:
                info.queued_at = event.queued_at
            listeners = list(self._listeners)
            self.version += 1
            if info.parent is None:
                self.root_version += 1
                self._root_changed.notify_all()
        for listener in listeners:
            try:
                listener(event, info)
            except Exception:  # a broken view must never break the run
                pass
        return info

    def annotate(self, name: str, **fields: object) -> None:
        """Attach values (inputs, outputs) to an action without an event: views read them on demand."""
        with self._lock:
            info = self._actions.get(name)
            if info is not None:
                for key, value in fields.items():
                    setattr(info, key, value)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event, info)` on every change; returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def wait_for_root_change(self, timeout: float, seen: int | None = None) -> None:
        """Wait up to `timeout` seconds for the root action's next change (or a `wake`); with
        `seen` (a `root_version` read before the caller looked at the root), return at once if a
        change came since, which a caller checking first and then waiting would otherwise sleep
        through."""
        with self._root_changed:
            if seen is not None and self.root_version != seen:
                return
            self._root_changed.wait(timeout)

    def wake(self) -> None:
        """Wake every `wait_for_root_change` now (the feed of events has ended or failed)."""
        with self._root_changed:
            self.root_version += 1
            self._root_changed.notify_all()

    @property
    def actions(self) -> dict[str, ActionInfo]:
        with self._lock:
            return dict(self._actions)

    def size(self) -> int:
        """How many actions the run has (without copying them, as `actions` does)."""
        return len(self._actions)

    def snapshot(self) -> tuple[dict[str, ActionInfo], dict[str | None, list[ActionInfo]]]:
        """The actions and, per parent name, its children in the order they appeared, copied
        under one lock (so the two agree): what a tree view walks."""
        with self._lock:
            return dict(self._actions), {parent: list(kids) for parent, kids in self._children.items()}

    def get(self, name: str) -> ActionInfo | None:
        with self._lock:
            return self._actions.get(name)

    def children(self, parent: str) -> list[ActionInfo]:
        with self._lock:
            return list(self._children.get(parent, ()))

    def counts(self) -> tuple[int, int]:
        """(finished, total) actions: what a progress bar shows."""
        with self._lock:
            total = len(self._actions)
            done = sum(1 for a in self._actions.values() if a.phase.terminal)
            return done, total
