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
    first = AttemptInfo(number=1, phase=Phase.FAILED, started_at=T0 + 1, ended_at=T0 + 2, error=err, backoff=0.5,
                        outputs_uri="s3://b/r/ab-1", log_ref="/logs/ab-1")
    second = AttemptInfo(number=2, phase=Phase.SUCCEEDED, started_at=T0 + 3, ended_at=T0 + 4,
                         outputs_uri="s3://b/r/ab-2", log_ref="/logs/ab-2")
    usage = (AttemptUsage(1, Phase.FAILED, T0, T0 + 0.5, T0 + 1, T0 + 2, 1.5, 10 << 20),
             AttemptUsage(2, Phase.SUCCEEDED, T0 + 2.5, T0 + 2.7, T0 + 3, T0 + 4))
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
    text = json.dumps(info.to_json())
    assert ActionInfo.from_json(json.loads(text)) == info


def test_json_of_an_action_has_no_inputs_or_outputs_values() -> None:
    info = dataclasses.replace(_full(), inputs={"x": 1}, outputs=2)
    data = info.to_json()
    assert "inputs" not in data and "outputs" not in data
    assert ActionInfo.from_json(data) == dataclasses.replace(info, inputs=None, outputs=None)
