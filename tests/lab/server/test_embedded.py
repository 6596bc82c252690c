"""With no endpoint configured, the server extension starts the embedded backend with the server
and stops it with the server; a backend that was already running is left alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "embedded"


@pytest.fixture
def flyte_config(data_dir: Path) -> dict[str, Any]:
    return {"data_dir": str(data_dir), "start_embedded": True}


@on_jupyter_loop
async def test_embedded_backend_starts_and_stops_with_the_server(jp_fetch, jp_serverapp, data_dir):
    from flyte_jupyter._internal.client import embedded as _embedded

    assert not _embedded.backend_status(data_dir).running
    response = await jp_fetch("flyte", "api", "runs")
    assert json.loads(response.body) == {"runs": []}
    status = _embedded.backend_status(data_dir)
    assert status.running and status.endpoint

    app = jp_serverapp.web_app.settings["flyte_jupyter"]
    await app.stop_extension()
    assert not _embedded.backend_status(data_dir).running


@on_jupyter_loop
async def test_a_backend_already_running_is_left_running(jp_fetch, jp_serverapp, data_dir):
    from flyte_jupyter._internal.client import embedded as _embedded

    _embedded.start_backend(data_dir, port=0)
    try:
        response = await jp_fetch("flyte", "api", "runs")
        assert response.code == 200
        app = jp_serverapp.web_app.settings["flyte_jupyter"]
        await app.stop_extension()
        assert _embedded.backend_status(data_dir).running
    finally:
        _embedded.stop_backend(data_dir)


@on_jupyter_loop
async def test_a_dead_embedded_backend_is_started_again(jp_fetch, jp_serverapp, data_dir, demo_notebook):
    from flyte_jupyter._internal.client import embedded as _embedded

    await jp_fetch("flyte", "api", "runs")
    first = _embedded.backend_status(data_dir).pid
    assert _embedded.stop_backend(data_dir)  # as if it had crashed
    response = await jp_fetch("flyte", "api", "runs")
    assert json.loads(response.body) == {"runs": []}
    status = _embedded.backend_status(data_dir)
    assert status.running and status.pid != first
    body = json.dumps({"path": demo_notebook, "task": "square", "inputs": {"x": 4}})
    run = json.loads((await jp_fetch("flyte", "api", "runs", method="POST", body=body)).body)
    assert run["source"] == demo_notebook
    app = jp_serverapp.web_app.settings["flyte_jupyter"]
    await app.stop_extension()  # the server started the second one too: it stops it
    assert not _embedded.backend_status(data_dir).running
