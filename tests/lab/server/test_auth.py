"""Every /flyte/api endpoint refuses requests without credentials, and browser POSTs need XSRF."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

import pytest
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError

NO_AUTH = {"Authorization": ""}

ENDPOINTS = [
    ("GET", ("flyte", "api", "runs"), None),
    ("POST", ("flyte", "api", "runs"), json.dumps({"path": "x.ipynb", "task": "main"})),
    ("GET", ("flyte", "api", "runs", "r-1"), None),
    ("POST", ("flyte", "api", "runs", "r-1", "abort"), "{}"),
    ("POST", ("flyte", "api", "runs", "r-1", "rerun"), "{}"),
    ("GET", ("flyte", "api", "runs", "r-1", "actions", "a0"), None),
    ("GET", ("flyte", "api", "runs", "r-1", "actions", "a0", "logs"), None),
    ("GET", ("flyte", "api", "notebook-tasks"), None),
    ("GET", ("flyte", "api", "tasks"), None),
    ("GET", ("flyte", "api", "tasks", "hello.main"), None),
    ("POST", ("flyte", "api", "tasks", "hello.main", "runs"), json.dumps({"inputs": {}})),
]


@pytest.mark.parametrize("method,parts,body", ENDPOINTS, ids=lambda v: "/".join(v) if isinstance(v, tuple) else None)
@on_jupyter_loop
async def test_rest_endpoints_refuse_anonymous_requests(jp_fetch, method, parts, body):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, method=method, body=body, headers=dict(NO_AUTH), follow_redirects=False)
    assert info.value.code == 403


@on_jupyter_loop
async def test_websocket_refuses_anonymous_connections(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("flyte", "api", "ws", headers=dict(NO_AUTH))
    assert info.value.code == 403


async def _login_cookies(jp_fetch, jp_serverapp) -> dict[str, str]:
    """Log in the way a browser does (token in the URL once), keeping the cookies it sets."""
    token = jp_serverapp.identity_provider.token
    response = await jp_fetch("api", "status", params={"token": token}, headers=dict(NO_AUTH))
    jar = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {k: v.value for k, v in jar.items()}


@on_jupyter_loop
async def test_browser_post_without_xsrf_is_refused(jp_fetch, jp_serverapp):
    cookies = await _login_cookies(jp_fetch, jp_serverapp)
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items() if k != "_xsrf")
    assert cookie_header, "logging in with the token set no cookie"
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", "r-1", "abort", method="POST", body="{}",
                       headers={"Authorization": "", "Cookie": cookie_header})
    assert info.value.code == 403
    assert "xsrf" in info.value.response.body.decode().lower()


@on_jupyter_loop
async def test_browser_post_with_xsrf_reaches_the_handler(jp_fetch, jp_serverapp):
    cookies = await _login_cookies(jp_fetch, jp_serverapp)
    xsrf = "flytetest"
    cookie_header = "; ".join([f"{k}={v}" for k, v in cookies.items() if k != "_xsrf"] + [f"_xsrf={xsrf}"])
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", method="POST", body=json.dumps({"path": "nb.ipynb"}),
                       headers={"Authorization": "", "Cookie": cookie_header, "X-XSRFToken": xsrf})
    # past auth and XSRF: the handler itself explains what is missing
    assert info.value.code == 400
    assert "task" in json.loads(info.value.response.body)["message"]
