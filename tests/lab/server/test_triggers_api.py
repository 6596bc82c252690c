"""The panel's triggers API against a real backend: list schedules with next and last fires, pause
and resume them (issue 19)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trigger_tasks
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False}


async def _json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("flyte", "api", *parts, **kwargs)
    return json.loads(response.body) if response.body else None


async def _deploy(backend: Any) -> None:
    from flyte_jupyter._deploy import deploy_environments
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    client = BackendClient.from_file(backend.client_yaml)
    await deploy_environments([trigger_tasks.env], client=client, project=client.project, domain=client.domain)


@on_jupyter_loop
async def test_list_pause_and_resume_triggers(jp_fetch, backend):
    await _deploy(backend)
    listed = (await _json(jp_fetch, "triggers"))["triggers"]
    by_key = {(t["task"], t["name"]): t for t in listed}
    assert set(by_key) == {("panel_triggers.nightly", "daily"), ("panel_triggers.nightly", "slow"),
                           ("panel_triggers.other", "daily")}
    daily = by_key[("panel_triggers.nightly", "daily")]
    assert daily["schedule"] == "cron 0 0 * * * (UTC)" and daily["cron"] == "0 0 * * *"
    assert daily["timezone"] == "UTC" and daily["interval_minutes"] is None
    assert daily["active"] is True and daily["paused"] is False
    assert daily["next_fire"] % 86400 == 0 and daily["last_fire"] is None and daily["last_run"] is None
    assert daily["trigger_time_input"] == "trigger_time" and daily["run_label"] == "flyte-jupyter/trigger"
    assert by_key[("panel_triggers.nightly", "slow")]["schedule"] == "every 600 minutes"
    only = (await _json(jp_fetch, "triggers", params={"task": "panel_triggers.other"}))["triggers"]
    assert [(t["task"], t["name"]) for t in only] == [("panel_triggers.other", "daily")]

    paused = await _json(jp_fetch, "triggers", "slow", "pause", method="POST", body="{}")
    assert paused["paused"] is True and paused["next_fire"] is None and paused["name"] == "slow"
    again = {(t["task"], t["name"]): t for t in (await _json(jp_fetch, "triggers"))["triggers"]}
    assert again[("panel_triggers.nightly", "slow")]["paused"] is True
    resumed = await _json(jp_fetch, "triggers", "slow", "resume", method="POST", body="{}")
    assert resumed["active"] is True and resumed["next_fire"] is not None

    # "daily" names two tasks' triggers: the task must be named
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "triggers", "daily", "pause", method="POST", body="{}")
    assert info.value.code == 409
    assert "panel_triggers.nightly" in json.loads(info.value.response.body)["message"]
    one = await _json(jp_fetch, "triggers", "daily", "pause", method="POST",
                      body=json.dumps({"task": "panel_triggers.other"}))
    assert one["task"] == "panel_triggers.other" and one["paused"] is True
    await _json(jp_fetch, "triggers", "daily", "resume", method="POST", body=json.dumps({"task": "panel_triggers.other"}))


@on_jupyter_loop
async def test_unknown_and_malformed_requests_get_clear_errors(jp_fetch, backend):
    await _deploy(backend)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "triggers", "nope", "pause", method="POST", body="{}")
    assert info.value.code == 404 and "no trigger 'nope'" in json.loads(info.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "triggers", "slow", "pause", method="POST", body=json.dumps({"task": 5}))
    assert info.value.code == 400 and "`task` must be a string" in json.loads(info.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "triggers", "slow", "explode", method="POST", body="{}")
    assert info.value.code == 404
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "triggers", params={"endpoint": "evil.example:1"})
    assert info.value.code == 403


def test_a_triggered_runs_origin_names_its_schedule_for_grouping() -> None:
    from flyte_jupyter._internal.runtime.naming import TRIGGER_LABEL, TRIGGER_TASK_LABEL, TRIGGER_TIME_LABEL
    from flyte_jupyter.server_ext._origins import origin_of

    labels = {TRIGGER_LABEL: "daily", TRIGGER_TASK_LABEL: "panel_triggers.nightly",
              TRIGGER_TIME_LABEL: "2026-01-16T00:00:00+00:00"}
    assert origin_of(labels, "panel_triggers.nightly", "/")["trigger"] == {
        "name": "daily", "task": "panel_triggers.nightly", "time": "2026-01-16T00:00:00+00:00"}
    assert origin_of({}, "t", "/")["trigger"] is None
    assert origin_of({TRIGGER_LABEL: "bad\x00"}, "t", "/")["trigger"] is None
