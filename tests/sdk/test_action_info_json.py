"""ActionInfo.to_json / from_json keep every field (the panel's timeline and the CLI read actions
back from JSON: a dropped field, e.g. a Dask action's `task_type`, silently became the default)."""

from __future__ import annotations

import dataclasses
import json

from flyte_jupyter._internal.wire.models import ActionError, ActionInfo, AttemptInfo, AttemptUsage, Phase

T0 = 1_700_000_000.0
_NOT_IN_JSON = {"inputs", "outputs"}  # Python values; callers that show them add their own text


def _full() -> ActionInfo:
    err = ActionError("ValueError", "boom", traceback="tb", retryable=False, origin="system")
    usage = (AttemptUsage(1, Phase.FAILED, T0, T0 + 0.5, T0 + 1, T0 + 2, 1.5, 10 << 20),
             AttemptUsage(2, Phase.SUCCEEDED, T0 + 2.5, T0 + 2.7, T0 + 3, T0 + 4))
    first = AttemptInfo(number=1, phase=Phase.FAILED, started_at=T0 + 1, ended_at=T0 + 2, error=err, backoff=0.5,
                        outputs_uri="s3://b/r/ab-1", log_ref="/logs/ab-1", usage=usage[0])
    second = AttemptInfo(number=2, phase=Phase.SUCCEEDED, started_at=T0 + 3, ended_at=T0 + 4,
                         outputs_uri="s3://b/r/ab-2", log_ref="/logs/ab-2", usage=usage[1])
    return ActionInfo(name="ab", task="m.child", parent="a0", run_name="r1", phase=Phase.SUCCEEDED, attempts=2,
                      started_at=T0 + 1, ended_at=T0 + 4, error=err, cache_hit=True, group="g1",
                      attempt_history=(first, second), inputs_uri="s3://b/r/ab/inputs.pb",
                      outputs_uri="s3://b/r/ab-2", task_type="dask", queued_at=T0,
                      recovered_from="r0/ab", usage=usage)


def test_every_field_survives_json_and_the_sample_sets_every_field() -> None:
    info = _full()
    default = ActionInfo(name="", task="", parent=None, run_name="")
    for f in dataclasses.fields(ActionInfo):
        if f.name not in _NOT_IN_JSON and f.name not in ("name", "task", "run_name"):
            assert getattr(info, f.name) != getattr(default, f.name), f"the sample leaves {f.name} at its default"
    blank = AttemptInfo(number=0, phase=Phase.QUEUED)
    for f in dataclasses.fields(AttemptInfo):
        if f.name not in ("number", "phase"):
            assert getattr(info.attempt_history[0], f.name) != getattr(blank, f.name), f"attempt sample leaves {f.name}"
    text = json.dumps(info.to_json())
    assert ActionInfo.from_json(json.loads(text)) == info


def test_json_of_an_action_has_no_inputs_or_outputs_values() -> None:
    info = dataclasses.replace(_full(), inputs={"x": 1}, outputs=2)
    data = info.to_json()
    assert "inputs" not in data and "outputs" not in data
    assert ActionInfo.from_json(data) == dataclasses.replace(info, inputs=None, outputs=None)


def test_each_attempt_of_a_backend_action_carries_its_usage() -> None:
    """The two per-attempt records the backend sends apart (`attempts`, `usage`) are one list here."""
    from flyte_jupyter._internal.wire.convert import action_event, action_info
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    msg = pb.Action(id=pb.ActionIdentifier(run="r1", name="ab"), task_name="m.child", phase=pb.PHASE_RUNNING,
                    attempt=2)
    msg.attempts.add(attempt=1, phase=pb.PHASE_FAILED, started_at=T0 + 1, ended_at=T0 + 2, backoff_seconds=0.5)
    msg.attempts.add(attempt=2, phase=pb.PHASE_RUNNING, started_at=T0 + 3)
    msg.usage.add(attempt=1, phase=pb.PHASE_FAILED, queued_at=T0, started_at=T0 + 0.5, running_at=T0 + 1,
                  ended_at=T0 + 2, has_usage=True, cpu_seconds=1.5, peak_memory_bytes=10 << 20)
    info = action_info(msg)
    first, second = info.attempt_history
    assert first.usage is not None and first.usage.cpu_seconds == 1.5 and first.usage.peak_memory_bytes == 10 << 20
    assert first.usage == info.usage[0]
    assert second.usage is None  # still running: no usage yet
    assert [a.usage for a in action_event(msg).attempts] == [first.usage, None]
