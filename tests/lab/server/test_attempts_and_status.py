"""Every attempt of a retried action (issue 18, item 6), the backend's status for the panel's "why
actions wait" (item 9), and the submit dialog's task names (item 8), against a real backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop
from test_rerun_clone_origin import _json, _kernel_like_submit, _log, _until_done
from tornado.httpclient import HTTPClientError

FLAKY_MODULE = '''
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="live")


@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.4))
def flaky(x: int) -> int:
    attempt = int(os.environ.get("FLYTE_JUPYTER_ATTEMPT", "1"))
    print(f"attempt {attempt} of flaky({x})", flush=True)
    time.sleep(0.2)
    if attempt < 3:
        raise ValueError(f"flaky {x} failed on attempt {attempt}")
    return x * 2


@env.task
def parent(x: int = 5) -> int:
    return flaky(x)
'''


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False}


async def _flaky_run(jp_fetch: Any, backend: Any, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    (workdir / "flaky_mod.py").write_text(FLAKY_MODULE)
    name = _kernel_like_submit(backend, workdir, '''
        import flaky_mod
        run = flyte.with_runcontext(mode="remote").run(flaky_mod.parent, x=5)
    ''')
    done = await _until_done(jp_fetch, name)
    assert done["phase"] == "SUCCEEDED", done
    child = next(a for a in done["actions"] if a["task"].endswith("flaky"))
    return done, child


async def backend_client_history(backend: Any, run: str, action: str) -> list[tuple[int, float | None, float | None]]:
    """(attempt, started_at, ended_at) of each attempt as the backend recorded it."""
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    client = BackendClient.from_file(backend.client_yaml)
    try:
        info = (await client.get_action(run, action)).info
    finally:
        await client.close()
    return [(a.number, a.started_at, a.ended_at) for a in info.attempt_history]


def _check_history(attempts: list[dict[str, Any]]) -> None:
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert [a["phase"] for a in attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
    for k, a in enumerate(attempts[:2], start=1):
        assert a["error"]["kind"] == "ValueError" and f"failed on attempt {k}" in a["error"]["message"]
        assert a["ended_at"] and a["started_at"] and a["ended_at"] >= a["started_at"] - 0.001
        assert a["backoff"] is not None and a["backoff"] >= 0
    assert attempts[2]["error"] is None and attempts[2]["ended_at"]


@on_jupyter_loop
async def test_a_retried_action_shows_every_attempt_with_its_error_log_times_and_backoff(jp_fetch, backend, tmp_path):
    done, child = await _flaky_run(jp_fetch, backend, tmp_path)
    detail = await _json(jp_fetch, "runs", done["name"], "actions", child["name"])
    assert detail["phase"] == "SUCCEEDED" and detail["attempts"] == 3
    attempts = detail["attempt_history"]
    _check_history(attempts)
    # nobody watched this run: still every attempt's own times and the backoff the backend waited
    # (0.4 s then 0.8 s), from its record of the action's attempts, none estimated
    assert [a["backoff"] for a in attempts[:2]] == [pytest.approx(0.4), pytest.approx(0.8)]
    assert all(a["times_seen"] for a in attempts) and all(a["backoff_seen"] for a in attempts[:2])
    recorded = await backend_client_history(backend, done["name"], child["name"])
    assert [(a["attempt"], a["started_at"], a["ended_at"]) for a in attempts] == recorded
    assert attempts[1]["started_at"] >= attempts[0]["ended_at"] + 0.4 - 0.05
    # and what each attempt cost, on the attempt itself (the backend's usage record, joined)
    assert [a["usage"]["attempt"] for a in attempts] == [1, 2, 3]
    assert all(a["usage"]["cpu_seconds"] is not None and a["usage"]["peak_memory_bytes"] for a in attempts)
    assert detail["retry_policy"] == {"retries": 2, "backoff": 0.4, "factor": 2.0, "max_backoff": 300.0}
    for k in (1, 2, 3):
        text = await _log(jp_fetch, done["name"], child["name"], attempt=str(k))
        assert f"attempt {k} of flaky(5)" in text
        assert all(f"attempt {j} of" not in text for j in (1, 2, 3) if j != k)
    with pytest.raises(HTTPClientError) as info:
        await _log(jp_fetch, done["name"], child["name"], attempt="first")
    assert info.value.code == 400


@on_jupyter_loop
async def test_a_watched_run_records_the_real_wait_between_attempts(jp_fetch, jp_ws_fetch, backend, tmp_path):
    (tmp_path / "flaky_mod.py").write_text(FLAKY_MODULE)
    name = _kernel_like_submit(backend, tmp_path, '''
        import flaky_mod
        run = flyte.with_runcontext(mode="remote").run(flaky_mod.parent, x=6)
    ''')
    ws = await jp_ws_fetch("flyte", "api", "ws")
    ws.write_message(json.dumps({"watch": name}))
    try:
        done = await _until_done(jp_fetch, name)
        await asyncio.sleep(0.3)  # the hub's watch sees the end too
    finally:
        ws.close()
    child = next(a for a in done["actions"] if a["task"].endswith("flaky"))
    attempts = (await _json(jp_fetch, "runs", name, "actions", child["name"]))["attempt_history"]
    _check_history(attempts)
    seen = [a for a in attempts[:2] if a["backoff_seen"]]
    assert seen, attempts  # watched while it retried: the real waits, at least the policy's
    assert all(a["backoff"] >= 0.3 for a in seen)


@on_jupyter_loop
async def test_status_says_how_many_actions_run_at_once_and_how_busy_the_backend_is(jp_fetch):
    status = await _json(jp_fetch, "status")
    assert status["max_parallelism"] is None  # no bound but the capacity (actions admitted by requests)
    assert status["cpu_capacity"] > 0 and status["memory_capacity"] > 0 and status["cpu_requested"] >= 0
    assert status["running"] >= 0 and status["queued"] >= 0 and status["waiting_parents"] >= 0
    assert status["embedded"] is False and status["started_by_server"] is False
    assert status["endpoint"]


@on_jupyter_loop
async def test_notebook_tasks_carry_the_name_everything_else_uses(jp_fetch, write_notebook):
    path = write_notebook(
        "names.ipynb",
        "import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='live')\n"
        "other = flyte.TaskEnvironment('batch')\nfrom flyte_jupyter import TaskEnvironment\nthird = TaskEnvironment(NAME)",
        "@env.task\ndef slow(n: int) -> int:\n    return n",
        "@other.task\ndef load() -> int:\n    return 1",
        "@third.task\ndef odd() -> int:\n    return 1",
    )
    tasks = {t["name"]: t for t in (await _json(jp_fetch, "notebook-tasks", params={"path": path}))["tasks"]}
    assert (tasks["slow"]["environment"], tasks["slow"]["env_name"], tasks["slow"]["full_name"]) == \
        ("env", "live", "live.slow")
    assert tasks["load"]["full_name"] == "batch.load"
    assert tasks["odd"]["env_name"] is None and tasks["odd"]["full_name"] == "third.odd"


@pytest.mark.parametrize("parts", [("runs", "r-1", "rerun"), ("runs", "r-1", "labels"), ("status",)])
@on_jupyter_loop
async def test_the_new_handlers_refuse_another_backend_and_need_a_login(jp_fetch, parts):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", *parts, params={"endpoint": "evil.example:443"})
    assert info.value.code == 403
    assert "allowed_endpoints" in json.loads(info.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", *parts, headers={"Authorization": ""})
    assert info.value.code in (401, 403)
