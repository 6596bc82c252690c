"""Every attempt of an action: its error, times, log and the backoff before the next one.

The backend keeps an action's latest attempt only (and the first start), so the history is put
together from three sources, the best first:

- what the server saw while it watched the run (`AttemptLog`, fed by the websocket's watches):
  when each attempt started and ended, its error, and so the real wait between two attempts;
- storage: a failed attempt that reported its error left `error.pb` under its own output prefix
  (`.../ACTION-<attempt>/`), whose modification time is when it ended;
- the task's retry policy (its spec): the backoff the backend waits after attempt k,
  `min(backoff * factor**(k-1), max_backoff)`.

The log of every attempt is kept by the backend (TailLogs with `attempt`).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Any

_MAX_RUNS = 200


@dataclasses.dataclass
class _Seen:
    started_at: float | None = None
    ended_at: float | None = None
    phase: str | None = None
    error: dict[str, Any] | None = None


class AttemptLog:
    """Per run and action, the attempts seen in watch events (bounded: the newest runs)."""

    def __init__(self, max_runs: int = _MAX_RUNS) -> None:
        self._lock = threading.Lock()
        self._runs: collections.OrderedDict[tuple[str, str, str], dict[str, dict[int, _Seen]]] = \
            collections.OrderedDict()
        self.max_runs = max_runs

    def observe(self, key: tuple[str, str, str], event: Any, now: float | None = None) -> None:
        """One ActionEvent of the run `key` (project, domain, run)."""
        now = time.time() if now is None else now
        phase = event.phase.value
        attempt = int(event.attempt or 0)
        if attempt < 1:
            return
        with self._lock:
            actions = self._runs.get(key)
            if actions is None:
                actions = self._runs[key] = {}
                while len(self._runs) > self.max_runs:
                    self._runs.popitem(last=False)
            history = actions.setdefault(event.action, {})
            seen = history.setdefault(attempt, _Seen())
            error = dataclasses.asdict(event.error) if event.error is not None else None
            if phase in ("RUNNING", "INITIALIZING"):
                if seen.started_at is None:
                    seen.started_at = event.timestamp if attempt == 1 and event.timestamp else now
                seen.phase = seen.phase or "RUNNING"
            elif phase == "QUEUED" and error is not None:  # attempt failed, to be retried
                if seen.ended_at is None:
                    seen.ended_at = now
                seen.phase, seen.error = "FAILED", error
            elif event.phase.terminal:
                seen.ended_at = event.timestamp or now
                seen.phase, seen.error = phase, error

    def seen(self, key: tuple[str, str, str], action: str) -> dict[int, _Seen]:
        with self._lock:
            return dict(self._runs.get(key, {}).get(action, {}))


def policy_backoff(spec: Any, attempt: int) -> float | None:
    """Seconds the backend waits after attempt `attempt` fails (the executor's formula)."""
    if spec is None:
        return None
    r = spec.retries
    if not r.backoff_seconds:
        return 0.0
    return min(r.backoff_seconds * (r.backoff_factor or 2.0) ** (attempt - 1), r.max_backoff_seconds or 300.0)


def attempt_prefix(outputs_uri: str, latest: int, attempt: int) -> str | None:
    """The output prefix of `attempt`, from the latest attempt's (`.../a3-2` -> `.../a3-1`)."""
    suffix = f"-{latest}"
    base = outputs_uri.rstrip("/")
    if latest < 1 or not base.endswith(suffix):
        return None
    return base[: -len(suffix)] + f"-{attempt}"


def stored_error(prefix: str | None) -> tuple[dict[str, Any] | None, float | None]:
    """(the error an attempt reported, when it was written) from its `error.pb`. Blocking."""
    if not prefix:
        return None, None
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.wire.convert import error_from_pb
    from flyte_jupyter._internal.wire.proto import common_pb2

    uri = _storage.join(prefix, "error.pb")
    try:
        data = _storage.get_bytes(uri)
    except Exception:  # missing, or a store that raises its own types
        return None, None
    msg = common_pb2.ActionError()
    try:
        msg.ParseFromString(data)
    except Exception:
        return None, None
    err = error_from_pb(msg, True)
    when: float | None = None
    try:
        fs, path = _storage.filesystem(uri)
        info = fs.info(path)
        stamp = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
        when = stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp) if stamp else None
    except Exception:
        when = None
    return (dataclasses.asdict(err) if err is not None else None), when


def history(info: dict[str, Any], outputs_uri: str, spec: Any, seen: dict[int, _Seen]) -> list[dict[str, Any]]:
    """The attempts of one action, oldest first. `info` is its ActionInfo.to_json(). Blocking
    (reads storage for earlier attempts)."""
    latest = max(int(info.get("attempts") or 0), 1)
    out: list[dict[str, Any]] = []
    for k in range(1, latest + 1):
        s = seen.get(k, _Seen())
        last = k == latest
        entry: dict[str, Any] = {"attempt": k, "started_at": s.started_at, "ended_at": s.ended_at,
                                 "phase": s.phase, "error": s.error, "backoff": None, "backoff_seen": False,
                                 "times_seen": s.started_at is not None}
        if k == 1 and entry["started_at"] is None:
            entry["started_at"] = info.get("started_at")
        if last:
            entry["phase"] = info.get("phase")
            entry["error"] = info.get("error") if info.get("error") else (s.error if s.phase not in ("SUCCEEDED", "RECOVERED") else None)
            if info.get("ended_at"):
                entry["ended_at"] = info.get("ended_at")
        else:
            entry["phase"] = "FAILED"
            if entry["error"] is None or entry["ended_at"] is None:
                error, when = stored_error(attempt_prefix(outputs_uri, latest, k))
                entry["error"] = entry["error"] or error
                entry["ended_at"] = entry["ended_at"] or when
            nxt = seen.get(k + 1)
            if nxt is not None and nxt.started_at is not None and entry["ended_at"] is not None:
                entry["backoff"] = max(0.0, nxt.started_at - entry["ended_at"])
                entry["backoff_seen"] = True
            else:
                entry["backoff"] = policy_backoff(spec, k)
        out.append(entry)
    # an attempt whose start was not seen began about when the previous one ended plus the backoff
    for prev, entry in zip(out, out[1:]):
        if entry["started_at"] is None and prev["ended_at"] is not None:
            entry["started_at"] = prev["ended_at"] + (prev["backoff"] or 0.0)
            entry["times_seen"] = False
    return out
