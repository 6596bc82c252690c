"""Conversions between the wire messages and the SDK's plain models (ActionInfo, ActionEvent, ...).

Callers of `BackendClient` (widgets, the server extension, the CLI) see only the SDK models, never
protobuf messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flyte_jupyter._internal.wire.models import (
    ActionError,
    ActionEvent,
    ActionInfo,
    AttemptInfo,
    AttemptUsage,
    Phase,
    with_usage,
)
from flyte_jupyter._internal.wire.proto import common_pb2 as pb

_TO_PB = {
    Phase.QUEUED: pb.PHASE_QUEUED,
    Phase.INITIALIZING: pb.PHASE_INITIALIZING,
    Phase.RUNNING: pb.PHASE_RUNNING,
    Phase.SUCCEEDED: pb.PHASE_SUCCEEDED,
    Phase.FAILED: pb.PHASE_FAILED,
    Phase.ABORTED: pb.PHASE_ABORTED,
    Phase.TIMED_OUT: pb.PHASE_TIMED_OUT,
    Phase.RECOVERED: pb.PHASE_RECOVERED,
}
_FROM_PB: dict[int, Phase] = {v: k for k, v in _TO_PB.items()}


def phase_to_pb(phase: Phase) -> int:
    return _TO_PB[Phase(phase)]


def phase_from_pb(value: int) -> Phase:
    return _FROM_PB.get(value, Phase.QUEUED)


def error_from_pb(msg: pb.ActionError, present: bool = True) -> ActionError | None:
    if not present or not (msg.kind or msg.message):
        return None
    return ActionError(kind=msg.kind, message=msg.message, traceback=msg.traceback,
                       retryable=msg.retryable, origin=msg.origin or "user")


def _opt(value: float) -> float | None:
    return value or None


def attempts_from_pb(msg: pb.Action) -> tuple[AttemptInfo, ...]:
    """Every attempt an Action message carries, oldest first, each with its usage record (the
    message carries the two apart: `attempts` and `usage`)."""
    last = len(msg.attempts) - 1
    return with_usage(tuple(
        AttemptInfo(number=a.attempt, phase=phase_from_pb(a.phase), started_at=_opt(a.started_at),
                    ended_at=_opt(a.ended_at), error=error_from_pb(a.error, a.HasField("error")),
                    backoff=a.backoff_seconds if i < last else None, outputs_uri=a.outputs_uri, log_ref=a.log_ref)
        for i, a in enumerate(msg.attempts)), tuple(attempt_usage(u) for u in msg.usage))


def attempt_usage(msg: pb.AttemptUsage) -> AttemptUsage:
    return AttemptUsage(
        attempt=msg.attempt, phase=phase_from_pb(msg.phase), queued_at=_opt(msg.queued_at),
        started_at=_opt(msg.started_at), running_at=_opt(msg.running_at), ended_at=_opt(msg.ended_at),
        cpu_seconds=msg.cpu_seconds if msg.has_usage else None,
        peak_memory_bytes=msg.peak_memory_bytes if msg.has_usage else None,
    )


def action_info(msg: pb.Action) -> ActionInfo:
    """An ActionInfo (inputs/outputs not loaded) from an Action message."""
    return ActionInfo(
        name=msg.id.name,
        task=msg.task_name,
        parent=msg.parent or None,
        run_name=msg.id.run,
        phase=phase_from_pb(msg.phase),
        attempts=msg.attempt,
        started_at=_opt(msg.started_at),
        ended_at=_opt(msg.ended_at),
        error=error_from_pb(msg.error, msg.HasField("error")),
        cache_hit=msg.cache_hit,
        group=msg.group or None,
        attempt_history=attempts_from_pb(msg),
        inputs_uri=msg.inputs_uri or None,
        outputs_uri=msg.outputs_uri or None,
        task_type=msg.task_type or "python",
        queued_at=_opt(msg.queued_at),
        recovered_from=msg.recovered_from or None,
        usage=tuple(attempt_usage(u) for u in msg.usage),
    )


def action_event(msg: pb.Action) -> ActionEvent:
    """The change an Action message describes, as the SDK's ActionEvent."""
    return ActionEvent(
        run_name=msg.id.run,
        action=msg.id.name,
        task=msg.task_name,
        parent=msg.parent or None,
        phase=phase_from_pb(msg.phase),
        attempt=msg.attempt,
        timestamp=msg.ended_at or msg.started_at or msg.queued_at,
        error=error_from_pb(msg.error, msg.HasField("error")),
        cache_hit=msg.cache_hit,
        group=msg.group or None,
        started_at=_opt(msg.started_at),
        ended_at=_opt(msg.ended_at),
        attempts=attempts_from_pb(msg),
        task_type=msg.task_type or "python",
        outputs_uri=msg.outputs_uri or None,
        recovered_from=msg.recovered_from or None,
        usage=tuple(attempt_usage(u) for u in msg.usage),
        queued_at=_opt(msg.queued_at),
    )


@dataclasses.dataclass
class RunSummary:
    """One run as `runs list` and the side panel show it."""

    name: str
    project: str
    domain: str
    task: str
    phase: Phase
    created_at: float
    ended_at: float | None
    error: ActionError | None
    action_count: int
    labels: dict[str, str]
    url: str = ""
    task_version: str = ""  # the root task's version (a deployed task's registered version)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["phase"] = self.phase.value
        return out


def run_summary(msg: Any, url: str = "") -> RunSummary:
    root = msg.root
    return RunSummary(
        name=msg.id.run,
        project=msg.id.project,
        domain=msg.id.domain,
        task=msg.task_name or root.task_name,
        phase=phase_from_pb(root.phase),
        created_at=msg.created_at,
        ended_at=_opt(root.ended_at),
        error=error_from_pb(root.error, root.HasField("error")),
        action_count=msg.action_count,
        labels=dict(msg.labels),
        url=url,
        task_version=root.task_version,
    )
