"""A configured backend that does not answer gives the panel a 503 saying what to check."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError


@pytest.fixture
def flyte_config() -> dict[str, Any]:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {"endpoint": f"127.0.0.1:{port}", "start_embedded": False}


@on_jupyter_loop
async def test_unreachable_backend_is_503_naming_the_endpoint(jp_fetch, flyte_config):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", request_timeout=90)
    assert info.value.code == 503
    message = json.loads(info.value.response.body)["message"]
    assert flyte_config["endpoint"] in message and "cannot reach" in message


@on_jupyter_loop
async def test_bad_limit_is_400(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", params={"limit": "many"})
    assert info.value.code == 400
