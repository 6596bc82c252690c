"""A CreateRun that names a source run (`rerun`): Flyte 2's `flyte.rerun` and flyte-jupyter's
resume, turned into an ordinary CreateRun before anything is stored.

- Without `task`, the new run runs the source action's recorded spec (its code bundle, image and
  version), rooted at `rerun.action` (a0 by default: the whole run; a child: that action alone,
  as the root of a new run).
- Without inputs, it gets the inputs the source action received (the client merges new inputs
  into them before it asks, so "new inputs combine with the recorded ones").
- The source run's env vars and labels carry over; the request's own win; label `rerun-of` names
  the source.
- With `rerun.recover`, the succeeded actions of the source are reused (see `backend/recovery.py`).
"""

from __future__ import annotations

import dataclasses

import grpc

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter.backend.recovery import RecoverySource
from flyte_jupyter.backend.services.auth import Refuse
from flyte_jupyter.backend.services.context import Backend
from flyte_jupyter.backend.services.validation import Invalid, check_action_name, check_run_name

RERUN_OF_LABEL = "rerun-of"
_MAX_FORCED = 10_000


@dataclasses.dataclass
class RerunPlan:
    request: run_pb.CreateRunRequest  # an ordinary CreateRun: task, inputs, env and labels filled in
    source: RecoverySource | None  # what the new run recovers from (None: recover=False)


async def plan_rerun(b: Backend, request: run_pb.CreateRunRequest, project: str, domain: str) -> RerunPlan:
    """Every check and every read a rerun needs; writes nothing."""
    rerun = request.rerun
    if not rerun.run:
        raise Invalid("rerun names no source run; pass the name of the run to rerun")
    check_run_name(rerun.run)
    root = rerun.action or ROOT_ACTION
    check_action_name(root)
    if len(rerun.force_rerun_actions) > _MAX_FORCED:
        raise Invalid(f"force_rerun_actions names {len(rerun.force_rerun_actions)} actions; at most {_MAX_FORCED}")
    for name in rerun.force_rerun_actions:
        check_action_name(name)
    if request.HasField("task_ref"):
        raise Invalid("a rerun runs the source run's recorded task (or the `task` sent with it), not a task_ref")
    entry = await b.hub.get((project, domain, rerun.run))
    if entry is None:
        raise Refuse(grpc.StatusCode.NOT_FOUND, f"run {rerun.run!r} does not exist in {project}/{domain}; "
                                                 "`flyte-jupyter runs list` shows the runs there are")
    src = entry.actions.get(root)
    if src is None:
        raise Refuse(grpc.StatusCode.NOT_FOUND, f"run {rerun.run} has no action {root!r}; "
                                                 f"`flyte-jupyter runs get {rerun.run}` lists its actions")
    out = run_pb.CreateRunRequest()
    out.CopyFrom(request)
    if not (request.HasField("task") and request.task.ByteSize()):
        spec = await b.catalog.get(src.task_key)
        if spec is None:
            raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                         f"the task of action {root} of run {rerun.run} ({src.task_name} version "
                         f"{src.task_version}) is no longer stored; run the task again with flyte.run")
        out.task.CopyFrom(spec)
    recorded = _read_inputs(src.inputs_uri, rerun.run, root)
    new_inputs = bool(request.inputs or request.inputs_uri)
    if not new_inputs:
        out.inputs = recorded
        out.inputs_hash = src.inputs_hash
    root_inputs_same = not new_inputs or (bool(request.inputs) and request.inputs == recorded)
    out.env_vars.clear()
    out.env_vars.update({**entry.run.env_vars, **request.env_vars})
    out.labels.clear()
    out.labels.update({**entry.run.labels, **request.labels, RERUN_OF_LABEL: rerun.run})
    out.raw_data_path = request.raw_data_path or entry.run.raw_data_path
    source = None
    if rerun.recover:
        source = await b.recoveries.build(project, domain, rerun, root_inputs_same)
    return RerunPlan(out, source)


def _read_inputs(uri: str, run: str, action: str) -> bytes:
    if not uri:
        return b""
    try:
        return _storage.get_bytes(uri)
    except Exception as exc:  # noqa: BLE001 - remote stores raise their own types
        raise Refuse(grpc.StatusCode.FAILED_PRECONDITION,
                     f"the recorded inputs of action {action} of run {run} cannot be read ({exc}); "
                     "pass every input explicitly") from None


__all__ = ["RERUN_OF_LABEL", "RerunPlan", "plan_rerun"]
