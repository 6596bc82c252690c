"""GET /flyte/api/runs/{name}/timeline: the bars the notebook widget draws, as JSON, against a real
backend (the side panel's future timeline reads the same numbers)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop
from test_rerun_clone_origin import _kernel_like_submit, _until_done
from tornado.httpclient import HTTPClientError

FANOUT_MODULE = '''
import asyncio
import os

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="tl")


@env.task(retries=1)
def leaf(i: int) -> int:
    if i == 3 and os.environ.get("FLYTE_JUPYTER_ATTEMPT") == "1":
        raise ValueError("leaf 3 fails once")
    return i


@env.task
async def fan(n: int) -> int:
    with flyte.group("leaves"):
        parts = await asyncio.gather(*[leaf.aio(i) for i in range(n)])
    return sum(parts)
'''


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False}


async def _timeline(jp_fetch: Any, name: str, **params: str) -> dict[str, Any]:
    response = await jp_fetch("flyte", "api", "runs", name, "timeline", params=params)
    return json.loads(response.body)


@on_jupyter_loop
async def test_the_timeline_endpoint_returns_the_bars_and_folds_groups(jp_fetch, backend, tmp_path):
    (tmp_path / "tl_mod.py").write_text(FANOUT_MODULE)
    name = _kernel_like_submit(backend, tmp_path, '''
        import tl_mod
        run = flyte.with_runcontext(mode="remote").run(tl_mod.fan, n=12)
    ''')
    done = await _until_done(jp_fetch, name)
    assert done["phase"] == "SUCCEEDED", done

    tl = await _timeline(jp_fetch, name)
    assert tl["run"] == name and tl["total_actions"] == 13 and tl["phase"] == "SUCCEEDED"
    assert tl["critical_path"][0] == "a0" and tl["span"] > 0
    assert tl["cpu_seconds"] > 0 and tl["peak_memory_bytes"] > 1 << 20
    bars = {b["key"]: b for b in tl["bars"]}
    assert len(bars) == 13 and bars["a0"]["task"] == "tl.fan"
    retried = [b for b in tl["bars"] if b["attempts"] == 2]
    assert len(retried) == 1 and retried[0]["group"] == "leaves"
    assert [s["phase"] for s in retried[0]["segments"] if s["kind"] == "running"] == ["FAILED", "SUCCEEDED"]
    for bar in tl["bars"]:
        assert all(0 <= s["start"] <= s["end"] <= tl["span"] + 1e-6 for s in bar["segments"])
        assert set(bar["usage"]) == {str(k) for k in range(1, bar["attempts"] + 1)}
    assert "critical path" in tl["text"]

    folded = await _timeline(jp_fetch, name, max_rows="5")
    assert folded["folded"] == ["leaves"]
    group = next(b for b in folded["bars"] if b["key"] == "group:leaves")
    assert group["count"] == 12 and group["phases"] == {"SUCCEEDED": 12}
    opened = await _timeline(jp_fetch, name, max_rows="5", expand="leaves")
    assert len(opened["bars"]) == 13 and opened["folded"] == []
    zoomed = await _timeline(jp_fetch, name, window=f"0,{tl['span'] / 2}")
    assert zoomed["window"] == [0, tl["span"] / 2] and zoomed["span"] == pytest.approx(tl["span"] / 2)


@on_jupyter_loop
async def test_bad_parameters_and_unknown_runs_get_clear_errors(jp_fetch, backend):
    for params, needle in (({"max_rows": "0"}, "max_rows"), ({"max_rows": "x"}, "max_rows"),
                           ({"window": "5,1"}, "window"), ({"window": "nan,1"}, "window"),
                           ({"bucket": "-1"}, "bucket")):
        with pytest.raises(HTTPClientError) as err:
            await _timeline(jp_fetch, "rnosuchrun", **params)
        assert err.value.code == 400
        assert needle in json.loads(err.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as err:
        await _timeline(jp_fetch, "rnosuchrun")
    assert err.value.code == 404
