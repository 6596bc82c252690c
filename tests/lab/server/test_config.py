"""`c.FlyteJupyter.runs_manager_class` swaps the implementation behind every handler by config."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop

from flyte_jupyter.server_ext._manager import RunsManager, Scope


class StaticRunsManager(RunsManager):
    """A deployment's own manager: here, one that serves a fixed catalogue of runs."""

    async def list_runs(self, scope: Scope, phase: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        run = {"name": "r-static", "phase": "SUCCEEDED", "source": f"{scope.project or 'default'}.ipynb",
               "started_at": 1.0, "ended_at": 2.0, "error": None}
        return [run] if phase in (None, "SUCCEEDED") else []


@pytest.fixture
def flyte_config() -> dict[str, Any]:
    return {"runs_manager_class": "test_config.StaticRunsManager"}


@on_jupyter_loop
async def test_the_configured_manager_answers(jp_fetch, jp_serverapp):
    assert isinstance(jp_serverapp.web_app.settings["flyte_runs_manager"], StaticRunsManager)
    body = json.loads((await jp_fetch("flyte", "api", "runs", params={"project": "p1"})).body)
    assert body == {"runs": [{"name": "r-static", "phase": "SUCCEEDED", "source": "p1.ipynb",
                              "started_at": 1.0, "ended_at": 2.0, "error": None}]}


@on_jupyter_loop
async def test_a_manager_without_push_still_feeds_the_websocket(jp_ws_fetch):
    import asyncio

    ws = await jp_ws_fetch("flyte", "api", "ws", params={"project": "p2"})
    message = json.loads(await asyncio.wait_for(ws.read_message(), 30))
    assert message["type"] == "run" and message["run"]["name"] == "r-static"
    assert message["run"]["source"] == "p2.ipynb"
    ws.close()
