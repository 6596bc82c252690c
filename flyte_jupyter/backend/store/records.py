"""The backend's in-memory records of runs and actions, and their wire form."""

from __future__ import annotations

import dataclasses
from typing import cast

from flyte_jupyter._internal.wire.proto import common_pb2 as pb

SUCCESS = frozenset({pb.PHASE_SUCCEEDED, pb.PHASE_RECOVERED})  # RECOVERED: reused outputs, success-equivalent
TERMINAL = frozenset({*SUCCESS, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT})
LIVE_RUNNING = frozenset({pb.PHASE_INITIALIZING, pb.PHASE_RUNNING})

RunKey = tuple[str, str, str]  # project, domain, run
ActionKey = tuple[str, str, str, str]  # project, domain, run, action
TaskKey = tuple[str, str, str, str]  # project, domain, name, version


@dataclasses.dataclass(slots=True)
class ActionRecord:
    """One action as the executor drives it. `seq` changes on every recorded change."""

    project: str
    domain: str
    run: str
    name: str
    parent: str
    task_name: str
    task_version: str
    task_type: str = "python"
    group: str = ""
    phase: int = pb.PHASE_QUEUED
    attempt: int = 0
    max_attempts: int = 1
    error: pb.ActionError | None = None
    cache_hit: bool = False
    queued_at: float = 0.0
    started_at: float = 0.0
    ended_at: float = 0.0
    inputs_uri: str = ""
    outputs_uri: str = ""
    inputs_hash: str = ""
    overwrite_cache: bool = False
    seq: int = 0
    handle: str = ""  # the plugin's handle of the running attempt
    not_before: float = 0.0  # retry backoff: do not launch before this time
    # Every attempt launched, oldest first; the open (last) one takes its phase, end and error
    # from the fields above when sent (`attempt_records`).
    attempts: list[pb.AttemptRecord] = dataclasses.field(default_factory=list)
    recovered_from: str = ""  # RECOVERED: "RUN/ACTION" whose recorded outputs it reuses
    usage: list[pb.AttemptUsage] = dataclasses.field(default_factory=list)  # ended attempts, oldest first

    @property
    def key(self) -> ActionKey:
        return (self.project, self.domain, self.run, self.name)

    @property
    def task_key(self) -> TaskKey:
        return (self.project, self.domain, self.task_name, self.task_version)

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    def begin_attempt(self, number: int, now: float, outputs_uri: str, log_ref: str) -> None:
        """Attempt `number` starts (launched, or found running after a restart)."""
        if self.attempts and self.attempts[-1].attempt == number:
            return
        self.attempts.append(pb.AttemptRecord(attempt=number, phase=pb.PHASE_RUNNING, started_at=now,
                                              outputs_uri=outputs_uri, log_ref=log_ref))

    def end_attempt(self, phase: int, error: pb.ActionError | None, now: float, backoff: float = 0.0) -> None:
        """The open attempt ended and will be retried (a final end is read from the fields)."""
        if not self.attempts or self.attempts[-1].ended_at:
            return
        last = self.attempts[-1]
        last.phase, last.ended_at, last.backoff_seconds = cast("pb.Phase", phase), now, backoff
        if error is not None:
            last.error.CopyFrom(error)

    def attempt_records(self) -> list[pb.AttemptRecord]:
        """Every attempt as sent: the open one with the action's live phase, end and error; a
        cache hit (no launch) as one attempt of the action's own times."""
        if not self.attempts:
            if self.attempt < 1:
                return []
            out = [pb.AttemptRecord(attempt=self.attempt, started_at=self.started_at,
                                    outputs_uri=self.outputs_uri)]
        else:
            out = [pb.AttemptRecord() for _ in self.attempts]
            for copy, rec in zip(out, self.attempts):
                copy.CopyFrom(rec)
        last = out[-1]
        if not last.ended_at and last.attempt == self.attempt:
            last.phase = cast("pb.Phase", self.phase)
            if self.terminal:
                last.ended_at = self.ended_at
                if self.error is not None and self.phase != pb.PHASE_SUCCEEDED:
                    last.error.CopyFrom(self.error)
        return out

    def to_pb(self) -> pb.Action:
        msg = pb.Action(
            id=pb.ActionIdentifier(project=self.project, domain=self.domain, run=self.run, name=self.name),
            parent=self.parent, task_name=self.task_name, task_version=self.task_version, group=self.group,
            phase=cast("pb.Phase", self.phase), attempt=self.attempt, max_attempts=self.max_attempts, cache_hit=self.cache_hit,
            queued_at=self.queued_at, started_at=self.started_at, ended_at=self.ended_at,
            inputs_uri=self.inputs_uri, outputs_uri=self.outputs_uri, seq=self.seq, task_type=self.task_type,
        )
        if self.error is not None:
            msg.error.CopyFrom(self.error)
        msg.attempts.extend(self.attempt_records())
        if self.recovered_from:
            msg.recovered_from = self.recovered_from
        if self.usage:
            msg.usage.extend(self.usage)
        return msg


@dataclasses.dataclass(slots=True)
class RunRecord:
    """A run's metadata; its actions live in the state hub."""

    project: str
    domain: str
    name: str
    created_at: float
    task_name: str
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    raw_data_path: str = ""
    overwrite_cache: bool = False

    @property
    def key(self) -> RunKey:
        return (self.project, self.domain, self.name)


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseTerms:
    """The lease a replica takes of a run it creates (backend/replicas.py): written with the
    run, so no other replica can claim the run in between and one name has one creator."""

    owner: str
    endpoint: str
    ttl: float  # seconds, in the database's clock


@dataclasses.dataclass(slots=True)
class CacheRecord:
    project: str
    domain: str
    task_name: str
    cache_version: str
    inputs_hash: str
    outputs_uri: str
    created_at: float
    source_run: str
    source_action: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.project, self.domain, self.task_name, self.cache_version, self.inputs_hash)


@dataclasses.dataclass(slots=True)
class RegistrationRecord:
    """A task version registered ahead of a run (the catalog keeps its spec): who, when, and what
    people and launch forms need to know of it (`entry`, a serialized TaskEntry without its spec)."""

    project: str
    domain: str
    name: str
    version: str
    digest: str
    created_at: float
    created_by: str
    entry: bytes = b""

    @property
    def key(self) -> TaskKey:
        return (self.project, self.domain, self.name, self.version)


# -- secrets and triggers (issue 19) ------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class SecretRecord:
    """A stored secret: its name and when, never its value in the clear (`sealed` is the
    ciphertext the vault made, bound to project, domain and name)."""

    project: str
    domain: str
    name: str
    sealed: bytes
    created_at: float
    updated_at: float


TriggerKey = tuple[str, str, str, str]  # project, domain, task name, trigger name


@dataclasses.dataclass(slots=True)
class TriggerRecord:
    """A deployed trigger: its spec (a serialized TriggerSpec), the task version it runs, whether it
    is active, and since when it is (ticks before `active_since` never fire: a paused trigger does
    not catch up on the ticks it missed while paused)."""

    project: str
    domain: str
    task_name: str
    name: str
    task_version: str
    spec: bytes
    active: bool
    created_at: float
    active_since: float

    @property
    def key(self) -> TriggerKey:
        return (self.project, self.domain, self.task_name, self.name)


@dataclasses.dataclass(slots=True)
class TickRecord:
    """One fired tick of a trigger: unique per (trigger, tick), written with its run."""

    project: str
    domain: str
    task_name: str
    name: str
    tick: float
    run_name: str
    fired_at: float
