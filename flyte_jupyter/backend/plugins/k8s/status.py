"""What a pod's status means for its attempt: progress phase, or how it ended.

Pending -> INITIALIZING, Running -> RUNNING, Succeeded -> exited 0, Failed -> exited with the
container's code, OOMKilled -> OOM (with the termination message), DeadlineExceeded and Evicted as
such. Image pull errors keep a pod Pending forever in Kubernetes; they are reported as a failure once
they have lasted longer than a grace period (as Flyte does), with the kubelet's message.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from flyte_jupyter._internal.wire.models import Phase

IMAGE_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                          "RegistryUnavailable"})
CONFIG_ERRORS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


@dataclasses.dataclass(frozen=True)
class PodView:
    """The executor's reading of one pod status."""

    phase: Phase | None = None  # INITIALIZING / RUNNING while it is alive
    ended: str | None = None  # "exited", "oom", "lost" once it is over
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    stuck_since: float | None = None  # set while waiting on an error that may never clear (image pull)
    started_at: str | None = None
    ended_at: str | None = None


def _primary(pod: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    name = containers[0].get("name", "")
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == name:
            return name, cs
    return name, {}


def _limit(pod: dict[str, Any]) -> str:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    mem = ((containers[0].get("resources") or {}).get("limits") or {}).get("memory")
    if mem and str(mem).isdigit():
        b = int(mem)
        for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
            if b % size == 0:
                return f"{b // size}{unit}"
    return str(mem) if mem else "?"


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def view(pod: dict[str, Any]) -> PodView:
    """Interpret one pod object (Kubernetes JSON form)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    _, cs = _primary(pod)
    state = cs.get("state") or {}
    term = state.get("terminated") or {}
    waiting = state.get("waiting") or {}
    started = status.get("startTime")
    if phase == "Succeeded":
        return PodView(ended="exited", exit_code=0, reason=term.get("reason", "Completed"),
                       message=term.get("message", ""), started_at=term.get("startedAt") or started,
                       ended_at=term.get("finishedAt"))
    if phase == "Failed":
        code = term.get("exitCode")
        if term.get("reason") == "OOMKilled":
            msg = (f"OOMKilled: the container exceeded its memory limit ({_limit(pod)}) and was killed "
                   f"(exit code {code})")
            if term.get("message"):
                msg += f"\n{term['message']}"
            return PodView(ended="oom", exit_code=code, reason="OOMKilled", message=msg,
                           started_at=term.get("startedAt") or started, ended_at=term.get("finishedAt"))
        if status.get("reason") == "Evicted":
            return PodView(ended="lost", exit_code=code, reason="Evicted",
                           message=f"Evicted: {status.get('message', '')}".rstrip(": "))
        if status.get("reason") == "DeadlineExceeded":
            return PodView(ended="exited", exit_code=code if code is not None else 137,
                           reason="DeadlineExceeded",
                           message=f"DeadlineExceeded: {status.get('message', 'activeDeadlineSeconds passed')}",
                           started_at=started, ended_at=term.get("finishedAt"))
        if not term:
            return PodView(ended="lost", reason=status.get("reason", "Failed"),
                           message=f"{status.get('reason', 'Failed')}: {status.get('message', '')}".rstrip(": "))
        msg = term.get("message", "") or status.get("message", "")
        return PodView(ended="exited", exit_code=code, reason=term.get("reason", "Error"), message=msg,
                       started_at=term.get("startedAt") or started, ended_at=term.get("finishedAt"))
    if phase == "Running":
        return PodView(phase=Phase.RUNNING, started_at=(state.get("running") or {}).get("startedAt") or started)
    if phase == "Unknown":
        return PodView(reason="Unknown", message="the node stopped reporting this pod")
    # Pending
    reason = waiting.get("reason", "")
    if reason in IMAGE_ERRORS or reason in CONFIG_ERRORS:
        since = _ts((pod.get("metadata") or {}).get("creationTimestamp"))
        return PodView(phase=Phase.INITIALIZING, reason=reason,
                       message=f"{reason}: {waiting.get('message', '')}".rstrip(": "), stuck_since=since)
    return PodView(phase=Phase.INITIALIZING, reason=reason or "Pending",
                   message=waiting.get("message", ""))
