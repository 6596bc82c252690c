"""Every attempt of an action, in the panel's shape: its phase, error, times and the wait before
the next one.

The backend records each attempt with its action (`Action.attempts`, read by the SDK as
`ActionInfo.attempt_history`): when it started and ended, how it ended, and the backoff the backend
waited before the next attempt. This module only puts that in the panel's `IAttempt` shape; the log
of every attempt is the backend's too (TailLogs with `attempt`).
"""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo, AttemptInfo


def history(info: ActionInfo) -> list[dict[str, Any]]:
    """The attempts of one action, oldest first: `AttemptInfo.to_json()` plus `backoff_seen` (the
    backoff is the backend's record, not a guess from the retry policy) and `times_seen` (its start
    is known). An action without attempt records (it never started) is its own one attempt."""
    records = info.attempt_history or (
        AttemptInfo(number=max(info.attempts, 1), phase=info.phase, started_at=info.started_at,
                    ended_at=info.ended_at, error=info.error),)
    out: list[dict[str, Any]] = []
    for k, record in enumerate(records):
        entry = record.to_json()
        last = k == len(records) - 1
        if last:
            entry["backoff"] = None
        entry["backoff_seen"] = not last and record.backoff is not None
        entry["times_seen"] = record.started_at is not None
        out.append(entry)
    return out
