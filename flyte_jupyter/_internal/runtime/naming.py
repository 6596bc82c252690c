"""Deterministic names: the same parent calling the same task with the same inputs at the same
position in its call order always gets the same child name, so a retried or resumed parent finds
the children it already ran instead of running them again."""

from __future__ import annotations

import datetime
import hashlib
import secrets

ROOT_ACTION = "a0"


def child_action_name(parent: str, task_name: str, inputs_hash: str, seq: int) -> str:
    digest = hashlib.sha256(f"{parent}\0{task_name}\0{inputs_hash}\0{seq}".encode()).hexdigest()
    return "a" + digest[:15]


def new_run_name() -> str:
    """A short, sortable, unique run name: r<yymmddHHMMSS><random>."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%S")
    return f"r{stamp}{secrets.token_hex(3)}"


# The labels of a run a trigger started (backend/scheduler.py sets them; views group runs by them).
TRIGGER_LABEL = "flyte-jupyter/trigger"
TRIGGER_TASK_LABEL = "flyte-jupyter/trigger-task"
TRIGGER_TIME_LABEL = "flyte-jupyter/trigger-time"
