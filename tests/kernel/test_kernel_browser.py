"""The run widget in a real JupyterLab, driven by headless Chromium (Playwright for Python).

Opens a notebook, runs its cells, and watches the live action tree in the DOM reach SUCCEEDED;
then aborts a long run with the widget's Abort button while the cell is still running. The
screenshots are kept under test-artifacts/.
"""

from __future__ import annotations

import json
import os
import secrets
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
from kernel_helpers import REPO, make_kernel_env

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"

NOTEBOOK_CELLS = [
    "%load_ext flyte_jupyter",
    '''import time
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("browser")

@env.task
def step(i: int) -> int:
    time.sleep(0.3)
    return i * 10

@env.task
async def fan_out(n: int) -> int:
    import asyncio
    return sum(await asyncio.gather(*[step.aio(i) for i in range(n)]))

@env.task
def slow() -> int:
    time.sleep(120)
    return 0

@env.task
def picky(x: int) -> int:
    if x == 3:
        raise ValueError("3 is not welcome here")
    return x''',
    "%%flyte run --name browser-run\ntotal = await fan_out(n=6)\ntotal",
    "%%flyte run --name browser-abort\nslow()",
    "%%flyte run --local --name browser-wide\nimport asyncio\nsum(await asyncio.gather(*[picky.aio(i % 3) for i in range(45)]))",
    "%%flyte run --local --name browser-fail\n[picky(i) for i in range(5)]",
    "%%flyte run --local --name browser-map\nsum(flyte.map(step, range(4), group_name='steps'))",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {last}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/setup-lab.sh installs it)")
    import nbformat

    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "flyte.ipynb")
    env = make_kernel_env(tmp_path)
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    # a private settings dir, where JupyterLab's "get news?" toast is turned off (it covers outputs)
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


def _run_cell(page: Any, index: int) -> None:
    page.evaluate("""(index) => {
        const panel = window.jupyterapp.shell.currentWidget;
        panel.content.activeCellIndex = index;
        window.jupyterapp.commands.execute('notebook:run-cell');  // not awaited: the cell may run long
        return null;
    }""", index)


def _outputs_text(page: Any) -> str:
    """What the notebook shows under its cells, for failure messages."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.jp-Cell')).map((c, i) =>
        `[${i}] ` + (c.querySelector('.jp-OutputArea') ? c.querySelector('.jp-OutputArea').innerText : ''))
        .join('\\n')""")


def _header_phase(page: Any, run: str) -> str | None:
    return page.evaluate("""(run) => {
        const el = document.querySelector(`.flyte-run-header[data-run="${run}"]`);
        return el ? el.getAttribute('data-phase') : null;
    }""", run)


def _wait_phase(page: Any, run: str, wanted: set[str], timeout: float) -> tuple[str | None, list[str]]:
    """Poll the DOM until the run's header shows one of `wanted`; returns it and the phases seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    phase = None
    while time.monotonic() < deadline:
        phase = _header_phase(page, run)
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
        if phase in wanted:
            return phase, seen
        page.wait_for_timeout(100)
    return phase, seen


def test_live_tree_reaches_succeeded_and_abort_button_works(lab: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{lab['url']}/lab/tree/flyte.ipynb?token={lab['token']}", timeout=90_000)
            page.wait_for_function("""() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle';
            }""", timeout=90_000)
            for i in range(3):
                _run_cell(page, i)

            phase, seen = _wait_phase(page, "browser-run", {"SUCCEEDED", "FAILED", "ABORTED"}, 120)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-succeeded.png"), full_page=True)
            assert phase == "SUCCEEDED", (f"phases seen in the DOM: {seen}\noutputs:\n{_outputs_text(page)}\n"
                                          f"lab log: {lab['log'].read_text()[-3000:]}")

            rows = page.evaluate("""() => Array.from(document.querySelectorAll(
                    '.flyte-run-view .flyte-action')).map(e => [e.querySelector('b').textContent,
                    e.getAttribute('data-phase')])""")
            tasks = sorted(rows)
            assert tasks == sorted([["notebook.cell", "SUCCEEDED"], ["browser.fan_out", "SUCCEEDED"]]
                                   + [["browser.step", "SUCCEEDED"]] * 6), rows
            counts = page.locator(".flyte-run-view .flyte-counts").first.text_content()
            assert counts == "8/8 finished"
            # the cell's value, bound and shown like any cell's
            page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
                .some(e => e.textContent.trim() === '150')""", timeout=30_000)

            # expand the root: its details panel shows the run's output
            page.locator(".flyte-run-view .flyte-action-row").first.locator("button").click()
            page.wait_for_selector('.flyte-details[data-action="a0"]', timeout=30_000)

            # a long run, aborted from the widget while its cell is still running
            _run_cell(page, 3)
            phase, _ = _wait_phase(page, "browser-abort", {"RUNNING"}, 60)
            assert phase == "RUNNING"
            view = page.locator('.flyte-run-view:has(.flyte-run-header[data-run="browser-abort"])')
            view.locator("button:has-text('Abort')").click()
            phase, seen = _wait_phase(page, "browser-abort", {"ABORTED", "SUCCEEDED", "FAILED"}, 60)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-aborted.png"), full_page=True)
            assert phase == "ABORTED", seen
            page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
                .some(e => e.textContent.includes('run browser-abort was aborted'))""", timeout=30_000)

            # a wide run shows a window of its children and "… N more", which shows more on click
            _run_cell(page, 4)
            phase, _ = _wait_phase(page, "browser-wide", {"SUCCEEDED", "FAILED"}, 60)
            assert phase == "SUCCEEDED"
            wide = page.locator('.flyte-run-view:has(.flyte-run-header[data-run="browser-wide"])')
            more = wide.locator(".flyte-more-row")
            more.wait_for(timeout=30_000)
            assert more.text_content().strip() == "… 25 more"
            assert wide.locator(".flyte-action").count() == 21
            more.click()
            page.wait_for_function("""() => {
                const h = document.querySelector('.flyte-run-header[data-run="browser-wide"]');
                const view = h && h.closest('.flyte-run-view');
                return view && view.querySelectorAll('.flyte-action').length === 46;
            }""", timeout=30_000)

            # a failure: the failing action's details show its error and the user's traceback
            _run_cell(page, 5)
            phase, _ = _wait_phase(page, "browser-fail", {"SUCCEEDED", "FAILED"}, 60)
            assert phase == "FAILED"
            failed = page.locator('.flyte-run-view:has(.flyte-run-header[data-run="browser-fail"])')
            failed.locator('.flyte-action-row:has(.flyte-action[data-phase="FAILED"]:has-text("browser.picky")) button').click()
            details = failed.locator(".flyte-details").first
            details.wait_for(timeout=30_000)
            assert "3 is not welcome here" in details.text_content()
            assert 'raise ValueError("3 is not welcome here")' in details.text_content()
            page.wait_for_function("""() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
                .some(e => e.textContent.includes('ActionFailedError') && e.textContent.includes('browser.picky'))""",
                timeout=30_000)
            details.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-failed.png"))

            # a map folds into one group line; opening it lists its actions
            _run_cell(page, 6)
            phase, _ = _wait_phase(page, "browser-map", {"SUCCEEDED", "FAILED"}, 60)
            assert phase == "SUCCEEDED"
            mapped = page.locator('.flyte-run-view:has(.flyte-run-header[data-run="browser-map"])')
            group = mapped.locator('.flyte-group[data-group="steps"]')
            group.wait_for(timeout=30_000)
            assert group.get_attribute("data-phase") == "SUCCEEDED"
            assert mapped.locator(".flyte-action").count() == 1
            mapped.locator('.flyte-action-row:has(.flyte-group) button').click()
            page.wait_for_function("""() => {
                const h = document.querySelector('.flyte-run-header[data-run="browser-map"]');
                const view = h && h.closest('.flyte-run-view');
                return view && view.querySelectorAll('.flyte-action[data-phase="SUCCEEDED"]').length === 5;
            }""", timeout=30_000)
            mapped.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kernel-widget-group.png"))
        finally:
            browser.close()
