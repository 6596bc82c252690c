"""The panel in a real JupyterLab, driven by headless Debian Chromium through Playwright.

Starts `jupyter lab` on a free loopback port (its embedded backend with it), opens the Binder
example notebook, submits it from the notebook toolbar, watches the run reach SUCCEEDED in the
panel's action tree and opens an action's logs. Screenshots go to test-artifacts/lab/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from _server_process import dying_with_this_process

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "lab"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (.ci/setup-lab.sh installs it)"),
    pytest.mark.skipif(not (ROOT / "flyte_jupyter" / "labextension" / "static" / "style.js").exists(),
                       reason="the labextension is not built (.ci/setup-lab.sh)"),
]


def _write_slow_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import time\nimport flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='slow')"),
        nbformat.v4.new_code_cell(
            "@env.task\ndef sleepy(ticks: int = 600) -> int:\n    for i in range(ticks):\n"
            "        print(f'tick {i}', flush=True)\n        time.sleep(0.5)\n    return ticks"),
    ]
    nbformat.write(nb, str(path))


def _write_failing_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='failing')"),
        nbformat.v4.new_code_cell(
            "@env.task\ndef check(limit: int) -> int:\n    print('checking', limit)\n"
            "    raise ValueError(f'limit {limit} is too small')\n\n\n"
            "@env.task\ndef main(limit: int = 3) -> int:\n    return check(limit)"),
    ]
    nbformat.write(nb, str(path))


def _post(lab: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A POST as a script would send it (token auth, so no XSRF cookie is needed)."""
    import json

    request = urllib.request.Request(
        f"{lab['url']}/flyte/api/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"token {lab['token']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _get(lab: dict[str, Any], path: str) -> Any:
    """A GET as a script would send it (token auth)."""
    import json

    request = urllib.request.Request(f"{lab['url']}/flyte/api/{path}",
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_run_succeeded(detail: Any, lab: dict[str, Any], timeout: float = 120) -> None:
    """Wait until a run view's header shows SUCCEEDED. On a timeout the failure says what the
    server knows of that run too: a view left behind a run that ended reads differently from a
    run that never finished."""
    try:
        detail.locator(".jp-FlyteDetail-header [data-phase='SUCCEEDED']").wait_for(timeout=timeout * 1000)
    except Exception as err:
        name = detail.get_attribute("data-run", timeout=5_000)
        try:
            run = _get(lab, f"runs/{name}")
            server = f"the server says {run['phase']}, actions " + ", ".join(
                f"{a['name']}:{a['phase']}" for a in run.get("actions", []))
        except Exception as get_err:  # the diagnosis must not hide the failure
            server = f"the server could not be asked ({get_err})"
        shown = detail.locator(".jp-FlyteDetail-header").inner_text(timeout=5_000)
        raise AssertionError(f"run {name} did not show SUCCEEDED in {timeout:.0f} s: the view shows "
                             f"{shown!r}; {server}") from err


def use_this_build(home: Path) -> None:
    """JupyterLab serves the first copy of the panel on its labextensions path, and the user data dir
    (`XDG_DATA_HOME` of the test's own HOME) comes before the environment's, whose copy the install
    made and a later `jlpm build:prod` does not refresh: a link to this tree's build goes first, so
    the browser tests always load the panel just built."""
    link = home / "data" / "jupyter" / "labextensions" / "@flyte-jupyter" / "labextension"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(ROOT / "flyte_jupyter" / "labextension", target_is_directory=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real `jupyter lab` (own HOME, root dir and embedded backend), stopped by PID."""
    home = tmp_path_factory.mktemp("home")
    root = tmp_path_factory.mktemp("root")
    shutil.copy(ROOT / "examples" / "binder_demo.ipynb", root / "binder_demo.ipynb")
    _write_slow_notebook(root / "slow.ipynb")
    _write_failing_notebook(root / "failing.ipynb")
    use_this_build(home)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), XDG_DATA_HOME=str(home / "data"))
    log = open(home / "lab.log", "wb")
    proc = subprocess.Popen(
        dying_with_this_process([  # the server goes when a killed test run does
            sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
            f"--BackendRunsManager.data_dir={home / 'backend'}", "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True"]),
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"jupyter lab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.2)
    yield {"url": url, "token": token, "root": root, "home": home}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    log.close()
    from flyte_jupyter._internal.client import embedded as _embedded

    left_running = _embedded.stop_backend(home / "backend")  # a no-op when the server stopped it
    assert not left_running, "the embedded backend outlived the Jupyter server that started it"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _dismiss_news(page: Any) -> None:
    """JupyterLab asks once whether to fetch news; answer "No" so it does not cover the pictures."""
    try:
        page.locator(".jp-toast-button", has_text="No").click(timeout=5_000)
    except Exception:
        pass  # not asked (or already answered): nothing covers the page


def _open_panel(page: Any) -> None:
    """Show the Flyte panel (its sidebar tab toggles, and a restored layout may have it open)."""
    page.wait_for_selector(".jp-SideBar.jp-mod-left [data-id='flyte-jupyter-panel']")
    if not page.locator("#flyte-jupyter-panel").is_visible():
        page.click(".jp-SideBar.jp-mod-left [data-id='flyte-jupyter-panel']")
    page.locator("#flyte-jupyter-panel").wait_for(state="visible")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_submit_from_the_toolbar_and_follow_the_run_in_the_panel(lab: dict[str, Any], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "flyte" in m.text.lower() else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab['url']}/lab/tree/binder_demo.ipynb?token={lab['token']}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
    _dismiss_news(page)

    # the Flyte panel in the left sidebar
    _open_panel(page)
    panel = page.locator("#flyte-jupyter-panel")
    panel.locator(".jp-FlytePanel-title").wait_for()
    panel.locator(".jp-FlyteEmpty").wait_for()
    _shot(page, "01-panel-empty")

    # "Run notebook on Flyte" from the notebook toolbar: pick a task, fill its inputs, run
    page.click(".jp-NotebookPanel-toolbar [data-command='flyte-jupyter:run-notebook']")
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-FlyteSubmit-task select, select.jp-FlyteSubmit-task").first.select_option("main")
    n_field = dialog.locator("[data-input='n'] input")
    n_field.fill("3")
    _shot(page, "02-submit-dialog")
    dialog.locator(".jp-mod-accept").click()

    # the panel opens the new run; its tree fills in live and the run succeeds
    detail = panel.locator(".jp-FlyteDetail")
    detail.wait_for()
    wait_run_succeeded(detail, lab, 120)
    rows = detail.locator(".jp-FlyteTree-row[data-action]")
    page.wait_for_function(
        "() => document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteTree-row[data-phase=SUCCEEDED]').length === 5")
    tasks = sorted(rows.locator(".jp-FlyteTree-task").all_inner_texts())
    # flyte.map's calls sit under one group row with an aggregate phase and a count
    group = detail.locator(".jp-FlyteTree-groupRow")
    # the group's own phase may come a render after its members' (CI once read RUNNING here with
    # all five rows SUCCEEDED): wait for it, as a user would see it turn
    detail.locator(".jp-FlyteTree-groupRow[data-group-phase=SUCCEEDED]").wait_for(timeout=10_000)
    assert "3/3" in group.inner_text()
    assert tasks == ["main", "square", "square", "square", "total"]
    assert "binder_demo.ipynb" in detail.locator(".jp-FlyteDetail-meta").inner_text()
    _shot(page, "03-run-succeeded")

    # an action's logs
    rows.filter(has_text="total").click()
    action = detail.locator(".jp-FlyteAction")
    action.locator(".jp-FlyteKV-inputs td", has_text="[0, 1, 4]").wait_for()
    action.locator(".jp-FlyteKV-outputs td", has_text="5").wait_for()
    logs = detail.locator(".jp-FlyteLogs-text")
    page.wait_for_function(
        "() => (document.querySelector('#flyte-jupyter-panel .jp-FlyteLogs-text')?.textContent || '')"
        ".includes('adding 3 values')")
    assert "adding 3 values" in logs.inner_text()
    _shot(page, "04-action-logs")

    # Re-run: a new run of the same task and inputs opens and succeeds
    first_name = detail.get_attribute("data-run")
    detail.locator(".jp-FlyteRerun").click()
    page.wait_for_function(
        "(old) => { const d = document.querySelector('#flyte-jupyter-panel .jp-FlyteDetail');"
        " return d && d.dataset.run && d.dataset.run !== old; }", arg=first_name)
    wait_run_succeeded(detail, lab, 120)
    second_name = detail.get_attribute("data-run")

    # back to the list: both runs, newest first, with their notebook; the phase filter narrows it
    detail.locator(".jp-FlyteBack").click()
    items = panel.locator(".jp-FlyteRuns-item")
    page.wait_for_function("() => document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteRuns-item').length === 2")
    assert [items.nth(i).get_attribute("data-run") for i in range(2)] == [second_name, first_name]
    assert "binder_demo.ipynb" in items.first.inner_text() and "SUCCEEDED" in items.first.inner_text()
    panel.locator(".jp-FlyteRuns-phaseSelect select, select.jp-FlyteRuns-phaseSelect").first.select_option("FAILED")
    panel.locator(".jp-FlyteEmpty", has_text="No runs in this phase").wait_for()
    panel.locator(".jp-FlyteRuns-phaseSelect select, select.jp-FlyteRuns-phaseSelect").first.select_option("")
    items.first.wait_for()

    # the command palette runs the same command: another task with its own input
    page.click(".jp-NotebookPanel .jp-Notebook")
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("Run notebook on Flyte")
    page.keyboard.press("Enter")
    dialog.locator(".jp-FlyteSubmit-task select, select.jp-FlyteSubmit-task").first.select_option("square")
    dialog.locator("[data-input='x'] input").fill("12")
    dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(
        "(old) => { const d = document.querySelector('#flyte-jupyter-panel .jp-FlyteDetail');"
        " return d && d.dataset.run && d.dataset.run !== old; }", arg=second_name)
    wait_run_succeeded(detail, lab, 120)
    rows.first.click()
    action.locator(".jp-FlyteKV-outputs td", has_text="144").wait_for()
    detail.locator(".jp-FlyteBack").click()
    page.wait_for_function("() => document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteRuns-item').length === 3")
    first = items.first
    _shot(page, "05-runs-list")

    # the same panel in the dark theme
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("JupyterLab Dark")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    first.click()
    detail.wait_for()
    rows.filter(has_text="square").first.click()
    detail.locator(".jp-FlyteLogs-text").wait_for()
    page.wait_for_timeout(300)  # let the theme's CSS settle before the picture (not an assertion)
    _shot(page, "06-dark-theme")
    assert errors == []
    page.close()


def test_a_rerun_that_ends_while_the_panel_fetches_it_shows_its_end(lab: dict[str, Any], browser: Any) -> None:
    """The panel's first GET of a run and the run's websocket updates travel apart: here the GET of
    a re-run is answered while it still runs, and that answer reaches the page only after the run
    ended (its last updates came first). The view must still show the end, not the GET's state."""
    import re

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}/lab?token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('flyte-jupyter:open-panel')")
    _dismiss_news(page)
    source = _post(lab, "runs", {"path": "slow.ipynb", "task": "sleepy", "inputs": {"ticks": 6}})["name"]
    page.evaluate("(run) => window.jupyterapp.commands.execute('flyte-jupyter:open-panel', {run})", source)
    detail = page.locator(f"#flyte-jupyter-panel .jp-FlyteDetail[data-run='{source}']")
    wait_run_succeeded(detail, lab, 120)
    held: list[str] = []

    def answer_late(route: Any) -> None:
        response = route.fetch()  # the re-run's state now, while it runs
        if route.request.method != "GET" or held:
            route.fulfill(response=response)
            return
        body = response.json()
        held.append(body["phase"])
        deadline = time.monotonic() + 90
        while _get(lab, f"runs/{body['name']}")["phase"] != "SUCCEEDED" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # the run's last websocket updates reach the page first
        route.fulfill(response=response)

    page.route(re.compile(rf"/flyte/api/runs/(?!{source})[^/?]+(\?.*)?$"), answer_late)
    detail.locator(".jp-FlyteRerun").click()
    page.wait_for_function(
        "(old) => { const d = document.querySelector('#flyte-jupyter-panel .jp-FlyteDetail');"
        " return d && d.dataset.run && d.dataset.run !== old; }", arg=source, timeout=120_000)
    assert held and held[0] in ("QUEUED", "INITIALIZING", "RUNNING"), held  # the late answer was a live state
    rerun = page.locator("#flyte-jupyter-panel .jp-FlyteDetail")
    wait_run_succeeded(rerun, lab, 30)
    rerun.locator(".jp-FlyteTree-row[data-action][data-phase='SUCCEEDED']").first.wait_for(timeout=10_000)
    assert rerun.locator(".jp-FlyteTree-row[data-phase='RUNNING']").count() == 0
    # A request still routed when the page closes would fail in the handler, and playwright raises
    # that in whichever call comes next: the next test's.
    page.unroute_all(behavior="ignoreErrors")
    page.close()


def test_follow_a_running_action_and_abort_the_run(lab: dict[str, Any], browser: Any) -> None:
    run = _post(lab, "runs", {"path": "slow.ipynb", "task": "sleepy", "inputs": {"ticks": 600}})
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}/lab?token={lab['token']}")
    page.wait_for_selector(".jp-SideBar.jp-mod-left [data-id='flyte-jupyter-panel']")
    _dismiss_news(page)
    # other parts (e.g. a notebook widget) open a run through the command
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('flyte-jupyter:open-panel')")
    page.evaluate("(run) => window.jupyterapp.commands.execute('flyte-jupyter:open-panel', {run})", run["name"])
    panel = page.locator("#flyte-jupyter-panel")
    detail = panel.locator(f".jp-FlyteDetail[data-run='{run['name']}']")
    detail.locator(".jp-FlyteTree-row[data-action][data-phase='RUNNING']").click()
    page.locator("#flyte-jupyter-panel .jp-FlyteLogs .jp-FlyteSection-title", has_text="following").wait_for()
    # the log grows while the action runs
    page.wait_for_function(
        "() => (document.querySelector('#flyte-jupyter-panel .jp-FlyteLogs-text')?.textContent || '')"
        ".includes('tick 3')", timeout=60_000)
    _shot(page, "07-running-following-logs")

    detail.locator(".jp-FlyteAbort").click()
    page.locator(".jp-Dialog .jp-mod-accept", has_text="Abort").click()
    detail.locator(".jp-FlyteDetail-header [data-phase='ABORTED']").wait_for(timeout=60_000)
    assert detail.locator(".jp-FlyteAbort").is_disabled()
    _shot(page, "08-aborted")

    # a failed run: the failing action and its error, with the traceback
    failed = _post(lab, "runs", {"path": "failing.ipynb", "task": "main", "inputs": {"limit": 2}})
    page.evaluate("(run) => window.jupyterapp.commands.execute('flyte-jupyter:open-panel', {run})", failed["name"])
    detail = panel.locator(f".jp-FlyteDetail[data-run='{failed['name']}']")
    detail.locator(".jp-FlyteDetail-header [data-phase='FAILED']").wait_for(timeout=120_000)
    detail.locator(".jp-FlyteTree-row[data-action][data-phase='FAILED']", has_text="check").click()
    error = detail.locator(".jp-FlyteAction .jp-FlyteError")
    error.wait_for()
    assert "ValueError" in error.inner_text() and "limit 2 is too small" in error.inner_text()
    _shot(page, "09-failed")

    # a large fan-out: its 200 calls fold under one group row, which counts them
    big = _post(lab, "runs", {"path": "binder_demo.ipynb", "task": "main", "inputs": {"n": 200}})
    page.evaluate("(run) => window.jupyterapp.commands.execute('flyte-jupyter:open-panel', {run})", big["name"])
    detail = panel.locator(f".jp-FlyteDetail[data-run='{big['name']}']")
    wait_run_succeeded(detail, lab, 180)
    group = detail.locator(".jp-FlyteTree-groupRow")
    page.wait_for_function(
        "() => (document.querySelector('#flyte-jupyter-panel .jp-FlyteTree-groupRow')?.textContent || '')"
        ".includes('200/200')")
    assert group.get_attribute("data-group-phase") == "SUCCEEDED"
    assert detail.locator(".jp-FlyteTree-row[data-action]").count() == 2  # main and total; the group is folded
    _shot(page, "10-fanout-200")
    page.close()


def _put_settings(lab: dict[str, Any], raw: str) -> None:
    import json

    request = urllib.request.Request(
        f"{lab['url']}/lab/api/settings/@flyte-jupyter/labextension:plugin",
        data=json.dumps({"raw": raw}).encode(), method="PUT",
        headers={"Authorization": f"token {lab['token']}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


def test_project_setting_scopes_the_panel(lab: dict[str, Any], browser: Any) -> None:
    _put_settings(lab, '{"project": "team-b"}')
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{lab['url']}/lab/tree/binder_demo.ipynb?token={lab['token']}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
        _dismiss_news(page)
        _open_panel(page)
        panel = page.locator("#flyte-jupyter-panel")
        # the runs of the earlier tests live in the default project: none shows here
        panel.locator(".jp-FlyteEmpty", has_text="No runs yet").wait_for()
        page.click(".jp-NotebookPanel-toolbar [data-command='flyte-jupyter:run-notebook']")
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".jp-FlyteSubmit-task select, select.jp-FlyteSubmit-task").first.select_option("square")
        dialog.locator("[data-input='x'] input").fill("3")
        dialog.locator(".jp-mod-accept").click()
        detail = panel.locator(".jp-FlyteDetail")
        wait_run_succeeded(detail, lab, 120)
        name = detail.get_attribute("data-run")
        page.close()
    finally:
        _put_settings(lab, "{}")
    import json

    def runs(project: str) -> list[str]:
        request = urllib.request.Request(f"{lab['url']}/flyte/api/runs?project={project}",
                                         headers={"Authorization": f"token {lab['token']}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return [r["name"] for r in json.loads(response.read())["runs"]]

    assert name in runs("team-b")
    assert name not in runs("default")
