"""Runs and actions as plain data.

One vocabulary for every producer (the local controller, the backend's state service) and every
consumer (widgets, the side panel, the CLI), so a local run and a remote run render the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from typing import Any

#: The run label the backend sets on a run of a deployed task: "NAME@VERSION" of the registered
#: version it runs (the run's project and domain are the task's). Clients cannot set it.
DEPLOYED_LABEL = "flyte-jupyter/deployed"


def deployed_of(labels: dict[str, str] | None, project: str, domain: str) -> str | None:
    """"task NAME version V in P/D" for a run of a deployed task, from its labels; else None."""
    value = (labels or {}).get(DEPLOYED_LABEL, "")
    name, _, version = value.partition("@")
    return f"task {name} version {version} in {project}/{domain}" if name and version else None


class Phase(str, enum.Enum):
    """Lifecycle of one action; the names match Flyte 2's action phases."""

    QUEUED = "QUEUED"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"
    RECOVERED = "RECOVERED"  # reused from an earlier run's recorded outputs; did not run

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def succeeded(self) -> bool:
        """SUCCEEDED or RECOVERED: the action has outputs (every consumer treats both as success)."""
        return self in SUCCESS

    def __str__(self) -> str:
        return self.value


SUCCESS = frozenset({Phase.SUCCEEDED, Phase.RECOVERED})
_TERMINAL = frozenset({*SUCCESS, Phase.FAILED, Phase.ABORTED, Phase.TIMED_OUT})


@dataclasses.dataclass
class ActionError:
    """What went wrong in an action, kept as text so it crosses process boundaries."""

    kind: str  # the original exception type name, e.g. "ValueError"
    message: str
    traceback: str = ""
    retryable: bool = True
    origin: str = "user"  # "user" or "system"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclasses.dataclass(frozen=True)
class AttemptInfo:
    """One attempt of an action as the backend recorded it (remote runs: `ActionInfo.attempt_history`),
    with what it cost once it ended (`usage`).

    The backend keeps two records per attempt: the attempt itself (phase, error, times, backoff,
    log) and its usage (queued/started/running/ended times, CPU, memory), stored apart. This is the
    one view of both: `usage` is the attempt's entry of `ActionInfo.usage`, None while it runs or
    when the backend recorded none."""

    number: int
    phase: Phase
    started_at: float | None = None
    ended_at: float | None = None
    error: ActionError | None = None
    backoff: float | None = None  # seconds waited before the next attempt
    outputs_uri: str = ""
    log_ref: str = ""
    usage: AttemptUsage | None = None

    def to_json(self) -> dict[str, Any]:
        """The REST shape of one attempt (the panel's `IAttempt`): `attempt` is its number."""
        return {"attempt": self.number, "phase": self.phase.value, "started_at": self.started_at,
                "ended_at": self.ended_at, "error": dataclasses.asdict(self.error) if self.error else None,
                "backoff": self.backoff, "outputs_uri": self.outputs_uri, "log_ref": self.log_ref,
                "usage": self.usage.to_json() if self.usage is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AttemptInfo":
        err, usage = data.get("error"), data.get("usage")
        return cls(number=int(data["attempt"]), phase=Phase(data["phase"]), started_at=data.get("started_at"),
                   ended_at=data.get("ended_at"), error=ActionError(**err) if isinstance(err, dict) else None,
                   backoff=data.get("backoff"), outputs_uri=data.get("outputs_uri") or "",
                   log_ref=data.get("log_ref") or "",
                   usage=AttemptUsage.from_json(usage) if isinstance(usage, dict) else None)


def with_usage(attempts: tuple[AttemptInfo, ...], usage: tuple[AttemptUsage, ...]) -> tuple[AttemptInfo, ...]:
    """`attempts`, each with its usage record (matched by attempt number; the latest record of a
    number wins)."""
    by_number = {u.attempt: u for u in usage}
    return tuple(dataclasses.replace(a, usage=by_number.get(a.number, a.usage)) for a in attempts)


@dataclasses.dataclass(frozen=True)
class AttemptUsage:
    """One ended attempt: its times (queued, started, running, ended) and what it cost."""

    attempt: int
    phase: Phase
    queued_at: float | None
    started_at: float | None
    running_at: float | None
    ended_at: float | None
    cpu_seconds: float | None = None  # None: not measured (a plugin without metrics)
    peak_memory_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["phase"] = self.phase.value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AttemptUsage":
        return cls(attempt=int(data["attempt"]), phase=Phase(data["phase"]), queued_at=data.get("queued_at"),
                   started_at=data.get("started_at"), running_at=data.get("running_at"),
                   ended_at=data.get("ended_at"), cpu_seconds=data.get("cpu_seconds"),
                   peak_memory_bytes=data.get("peak_memory_bytes"))


@dataclasses.dataclass
class ActionInfo:
    """The current state of one action, as a widget or the CLI shows it."""

    name: str
    task: str
    parent: str | None
    run_name: str
    phase: Phase = Phase.QUEUED
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    error: ActionError | None = None
    cache_hit: bool = False
    group: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: Any = None
    # Every attempt, oldest first, when the producer records them (the backend does; the local
    # controller reports each step as events instead).
    attempt_history: tuple[AttemptInfo, ...] = ()
    inputs_uri: str | None = None  # where a remote action's inputs are stored
    outputs_uri: str | None = None  # a remote action's latest attempt's output prefix
    task_type: str = "python"  # the plugin's type: "sql", "dask", "raw-container", ...
    queued_at: float | None = None
    recovered_from: str | None = None  # RECOVERED: "RUN/ACTION" whose recorded outputs it reuses
    # every ended attempt's usage, oldest first (also on each of `attempt_history`, joined by number)
    usage: tuple[AttemptUsage, ...] = ()

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at

    def to_json(self) -> dict[str, Any]:
        """Every field but `inputs` and `outputs` (Python values: a caller that shows them adds
        its own short text), JSON-safe; `from_json` reads each of them back."""
        return {
            "name": self.name,
            "task": self.task,
            "parent": self.parent,
            "run_name": self.run_name,
            "phase": self.phase.value,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": dataclasses.asdict(self.error) if self.error else None,
            "cache_hit": self.cache_hit,
            "group": self.group,
            "task_type": self.task_type,
            "queued_at": self.queued_at,
            "recovered_from": self.recovered_from,
            "usage": [u.to_json() for u in self.usage],
            "attempt_history": [a.to_json() for a in self.attempt_history],
            "inputs_uri": self.inputs_uri,
            "outputs_uri": self.outputs_uri,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ActionInfo":
        """The inverse of `to_json` (inputs and outputs are not in it)."""
        err = data.get("error")
        return cls(name=data["name"], task=data["task"], parent=data.get("parent"), run_name=data["run_name"],
                   phase=Phase(data["phase"]), attempts=int(data.get("attempts") or 0),
                   started_at=data.get("started_at"), ended_at=data.get("ended_at"),
                   error=ActionError(**err) if isinstance(err, dict) else None,
                   cache_hit=bool(data.get("cache_hit")), group=data.get("group"), queued_at=data.get("queued_at"),
                   recovered_from=data.get("recovered_from"), task_type=data.get("task_type") or "python",
                   usage=tuple(AttemptUsage.from_json(u) for u in data.get("usage") or ()),
                   attempt_history=tuple(AttemptInfo.from_json(a) for a in data.get("attempt_history") or ()),
                   inputs_uri=data.get("inputs_uri"), outputs_uri=data.get("outputs_uri"))


@dataclasses.dataclass(frozen=True)
class ActionEvent:
    """One phase change of one action; the unit every watcher consumes."""

    run_name: str
    action: str
    task: str
    parent: str | None
    phase: Phase
    attempt: int
    timestamp: float
    error: ActionError | None = None
    cache_hit: bool = False
    group: str | None = None
    # The action's own first start and end when the producer knows them (a backend's Action
    # message); None: the event's `timestamp` is when it happened.
    started_at: float | None = None
    ended_at: float | None = None
    attempts: tuple[AttemptInfo, ...] = ()
    task_type: str = "python"
    outputs_uri: str | None = None
    recovered_from: str | None = None
    usage: tuple[AttemptUsage, ...] = ()  # every ended attempt so far (remote runs)
    queued_at: float | None = None
