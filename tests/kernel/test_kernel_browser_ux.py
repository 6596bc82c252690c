"""The run widget as a data scientist sees it, in a real JupyterLab driven by headless Chromium:
each action's output as a stream with its label, labelled rows with a gather's progress bar, every
attempt of a retried task, a finished run without Abort, and a live widget that says it is not
updating once its kernel has been restarted. Screenshots in the light and the dark theme are kept
under test-artifacts/."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from _server_process import dying_with_this_process
from kernel_helpers import REPO, make_kernel_env
from test_kernel_browser import CHROMIUM, _free_port, _outputs_text, _run_cell, _wait_http, _wait_phase

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"

TASKS = '''import asyncio, os, sys, tempfile, time
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("bx")

@env.task
async def trial(lr: float, i: int) -> float:
    for pct in range(0, 101, 25):
        sys.stderr.write(f"\\rtraining {pct:3d}%|{'#' * (pct // 10):<10}|")
        await asyncio.sleep(0.05)
    sys.stderr.write("\\n")
    print(f"trial {i}: loss {1 / (1 + i):.3f}")
    return lr * i

@env.task
async def sweep(n: int) -> float:
    return sum(await asyncio.gather(*[trial(lr=0.05, i=i) for i in range(n)]))

@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.2))
def third_time_lucky(key: str) -> str:
    path = os.path.join(tempfile.gettempdir(), f"flyte-bx-{key}")
    tries = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(tries))
    print(f"attempt number {tries}")
    if tries < 3:
        raise ValueError(f"not yet ({tries})")
    return "made it"

@env.task
def sleepy(s: float) -> str:
    time.sleep(s)
    return "awake"'''

CELLS = [
    "%load_ext flyte_jupyter",
    TASKS,
    "%%flyte run --name bx-sweep\nprint('hello from the cell')\nawait sweep(n=8)",
    "%%flyte run --local --name bx-retry\nthird_time_lucky(key=str(time.time_ns()))",
    "%flyte run --local --name bx-restart sleepy --s 120",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/setup-lab.sh installs it)")
    import nbformat

    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "ux.ipynb")
    env = make_kernel_env(tmp_path)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "lab-workspaces")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "lab.log", "wb")
    proc = subprocess.Popen(
        dying_with_this_process([  # the server goes when a killed test run does
            sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}",
            "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--expose-app-in-browser", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]),
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", 90)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "env": env, "log": tmp_path / "lab.log"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        from flyte_jupyter._internal.client.embedded import stop_backend

        stop_backend(Path(env["FLYTE_JUPYTER_DATA_DIR"]) / "backend")


def _view(page: Any, run: str) -> Any:
    return page.locator(f'.flyte-run-view:has(.flyte-run-header[data-run="{run}"])')


def _theme(page: Any, name: str) -> None:
    page.evaluate("(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", name)
    page.wait_for_timeout(1500)


def _kernel_idle(page: Any) -> None:
    page.wait_for_function("""() => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
            && w.sessionContext.session.kernel.status === 'idle';
    }""", timeout=90_000)


def test_the_widget_as_a_data_scientist_sees_it(lab: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(f"{lab['url']}/lab/tree/ux.ipynb?token={lab['token']}", timeout=90_000)
            _kernel_idle(page)
            for i in range(4):
                _run_cell(page, i)
            phase, seen = _wait_phase(page, "bx-sweep", {"SUCCEEDED", "FAILED", "ABORTED"}, 180)
            assert phase == "SUCCEEDED", f"{seen}\n{_outputs_text(page)}\n{lab['log'].read_text()[-3000:]}"
            sweep = _view(page, "bx-sweep")
            # each action's output, prefixed with its label; a progress bar shows its last state
            sweep.locator(".flyte-stream").wait_for(timeout=30_000)
            page.wait_for_function("""() => {
                const s = document.querySelector('.flyte-run-view .flyte-stream');
                return s && s.textContent.includes('[trial(lr=0.05, i=7)] trial 7: loss 0.125');
            }""", timeout=30_000)
            stream = sweep.locator(".flyte-stream").text_content() or ""
            assert "[trial(lr=0.05, i=0)] training 100%|##########|" in stream
            assert "training  25%" not in stream  # a \r line keeps its latest state only
            assert "hello from the cell" not in stream  # the cell's own print is in the cell's output
            labels = sweep.locator(".flyte-label").all_text_contents()
            assert "sweep(n=8)" in labels and "trial(lr=0.05, i=3)" in labels
            bar = sweep.locator(".flyte-action[data-phase='SUCCEEDED']:has-text('sweep(n=8)') .flyte-progress")
            assert bar.get_attribute("data-done") == "8" and bar.get_attribute("data-total") == "8"
            assert sweep.locator("button:has-text('Abort')").count() == 0 or \
                not sweep.locator("button:has-text('Abort')").is_visible()  # a finished run has nothing to abort
            sweep.scroll_into_view_if_needed()
            sweep.screenshot(path=str(ARTIFACTS / "kernel-widget-ux-sweep-light.png"))

            phase, _ = _wait_phase(page, "bx-retry", {"SUCCEEDED", "FAILED"}, 60)
            assert phase == "SUCCEEDED"
            retry = _view(page, "bx-retry")
            retry.locator('.flyte-action-row:has-text("third_time_lucky") button').first.click()
            retry.locator(".flyte-attempt").nth(2).wait_for(timeout=30_000)
            attempts = retry.locator(".flyte-attempt").all_text_contents()
            assert len(attempts) == 3 and "not yet (1)" in attempts[0] and "attempt number 2" in attempts[1]
            assert "waited" in attempts[0]
            retry.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-ux-light.png"), full_page=True)
            _theme(page, "JupyterLab Dark")
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-ux-dark.png"), full_page=True)
            sweep.scroll_into_view_if_needed()
            sweep.screenshot(path=str(ARTIFACTS / "kernel-widget-ux-sweep-dark.png"))
            _theme(page, "JupyterLab Light")

            # a restart: JupyterLab stops listening to the kernel it restarts, so the live widget
            # cannot be told; after a few seconds without an update it says it is not updating and
            # greys its Abort button out
            _run_cell(page, 4)
            phase, _ = _wait_phase(page, "bx-restart", {"RUNNING"}, 60)
            assert phase == "RUNNING"
            page.wait_for_timeout(1500)
            live = _view(page, "bx-restart")
            assert live.locator(".flyte-abort").evaluate("e => getComputedStyle(e).opacity") == "1"
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
            page.wait_for_function("""() => {
                const h = document.querySelector('.flyte-run-header[data-run="bx-restart"] .flyte-stale');
                return h && getComputedStyle(h).opacity === '1';
            }""", timeout=30_000)
            stale = live.locator(".flyte-stale").text_content() or ""
            assert "not updating" in stale and "restarted" in stale
            abort = live.locator(".flyte-abort")
            assert float(abort.evaluate("e => getComputedStyle(e).opacity")) < 0.5
            assert abort.evaluate("e => getComputedStyle(e).pointerEvents") == "none"
            live.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-ux-stale.png"))
        finally:
            browser.close()
