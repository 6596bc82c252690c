"""The panel as issue 18 asks, in a real JupyterLab driven by headless Debian Chromium: runs started
the way the kernel starts them (cell runs of a named series, a 20-trial sweep, a task that fails
twice then succeeds, a failure nested three actions deep) and what the panel shows of them:

- a series folded under its newest run, the notebook and cell each run came from, a jump to that
  cell, Re-run and Clone (a form prefilled with the inputs) for every run (items 2, 3);
- a failure's root cause once, with the path of actions it travelled (item 5);
- every attempt of a retried action: its error, log, times and backoff (item 6);
- rows labelled by their inputs, a map group's progress bar with throughput and ETA (item 7);
- the submit dialog naming tasks `live.slow` and saying why Run is off (item 8);
- the embedded backend, the capacity in use ("cpu 2 of 2 requested, memory 400Mi of 16Gi; 18 queued")
  and why actions wait (item 9);
- a run opened in the main area, beside the notebook (item 10).

Screenshots (light and dark) go to test-artifacts/lab/ as 2x-*.png.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest
from _server_process import dying_with_this_process
from test_browser import _dismiss_news, _free_port, _get, _open_panel, _post, _shot, use_this_build, wait_run_succeeded
from test_browser import browser as browser  # noqa: F401  (this module's own Chromium)
from test_browser import pytestmark as pytestmark  # noqa: F401  (chromium and the built panel)

FLOWS = '''
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="sweep")


@env.task(resources=flyte.Resources(cpu=1))  # a core each: the trials wait for capacity
def trial(lr: float, i: int) -> float:
    print(f"trial {i} with lr={lr}", flush=True)
    time.sleep(1.5)
    return lr * i


@env.task
def sweep(n: int = 20, scale: float = 0.01) -> float:
    return sum(flyte.map(trial, [scale * (k + 1) for k in range(n)], list(range(n))))


@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.5))
def flaky(x: int) -> int:
    attempt = int(os.environ.get("FLYTE_JUPYTER_ATTEMPT", "1"))
    print(f"attempt {attempt} of flaky({x})", flush=True)
    if attempt < 3:
        raise ConnectionError(f"flaky({x}) lost its connection on attempt {attempt}")
    return x * 2


@env.task
def steady(x: int = 4) -> int:
    return flaky(x)


@env.task
def inner(d: int) -> float:
    return 1 / d


@env.task
def middle(d: int) -> float:
    return inner(d) * 2


@env.task
def outer(d: int = 0) -> float:
    return middle(d) + 1
'''

SWEEP_CELL = "%%flyte run --name sweep\nprint('the sweep cell ran')\n21 * 2"


def _notebooks(root: Path) -> Path:
    """sweep.ipynb: the notebook the kernel-made runs name (its second code cell has a known id);
    live.ipynb: a task of environment `live` held in the variable `env`, for the submit dialog."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Sweep"),
                nbformat.v4.new_code_cell("import flyte_jupyter as flyte\n%load_ext flyte_jupyter"),
                nbformat.v4.new_code_cell(SWEEP_CELL)]
    nb.cells[2].id = "sweep-cell"
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    nb.metadata.update(kernel)
    nbformat.write(nb, str(root / "sweep.ipynb"))
    live = nbformat.v4.new_notebook()
    live.cells = [
        nbformat.v4.new_code_cell("import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='live')"),
        nbformat.v4.new_code_cell("@env.task\ndef slow(n: int, rate: float = 0.5) -> float:\n    return n * rate"),
    ]
    live.metadata.update(kernel)
    nbformat.write(live, str(root / "live.ipynb"))
    return root / "sweep.ipynb"


def _client_yaml(lab: dict[str, Any]) -> Path:
    path = lab["home"] / "backend" / "client.yaml"
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, "the embedded backend did not start with JupyterLab"
        time.sleep(0.2)
    return path


def _as_the_kernel(lab: dict[str, Any], workdir: Path, code: str) -> str:
    """Submit a run from a child process as the kernel does (the SDK's remote path and the labels
    the kernel sets); `code` binds `run`."""
    script = f"import json, sys\nsys.path.insert(0, {str(workdir)!r})\nimport flyte_jupyter as flyte\n"
    script += textwrap.dedent(code) + "\nprint(json.dumps({'name': run.name}))\n"
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(_client_yaml(lab))}
    done = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["name"]


def _until_done(lab: dict[str, Any], name: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = _get(lab, f"runs/{name}")
        if run["phase"] in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RECOVERED"):
            return run
        assert time.monotonic() < deadline, f"{name} stuck in {run['phase']}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real `jupyter lab` (own HOME, root dir and embedded backend), stopped by PID; its
    embedded backend must stop with it."""
    import secrets
    import signal

    home = tmp_path_factory.mktemp("home")
    root = tmp_path_factory.mktemp("root")
    use_this_build(home)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), XDG_DATA_HOME=str(home / "data"))
    env.pop("FLYTE_JUPYTER_CONFIG", None)
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

    assert not _embedded.stop_backend(home / "backend"), "the embedded backend outlived JupyterLab"


@pytest.fixture(scope="module")
def lab(lab_server: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The JupyterLab, with the runs of this module made as the kernel makes them."""
    work = tmp_path_factory.mktemp("flows")
    (work / "flows.py").write_text(FLOWS)
    nb_path = _notebooks(lab_server["root"])
    cell_labels = {"flyte-jupyter/cell": "sweep-cell", "flyte-jupyter/series": "sweep",
                   "flyte-jupyter/notebook": str(nb_path)}
    runs: dict[str, str] = {}
    runs["sweep"] = _as_the_kernel(lab_server, work, f'''
        from flyte_jupyter.kernel._cell import build_cell_task
        task = build_cell_task(None, {SWEEP_CELL.split(chr(10), 1)[1]!r})
        run = flyte.with_runcontext(mode="remote", name="sweep", source="notebook", labels={cell_labels!r}).run(task)
    ''')
    _until_done(lab_server, "sweep")
    for _ in range(2):  # the cell run again (Run All): the next names of its series
        latest = _get(lab_server, "runs")["runs"][0]["name"]
        _post(lab_server, f"runs/{latest}/rerun", {})
    task_labels = {"flyte-jupyter/notebook": str(nb_path)}
    for key, call in (("steady", "flows.steady, x=4"), ("outer", "flows.outer, d=0")):
        runs[key] = _as_the_kernel(lab_server, work, f'''
            import flows
            run = flyte.with_runcontext(mode="remote", source="notebook", labels={task_labels!r}).run({call})
        ''')
    for key in ("steady", "outer"):
        _until_done(lab_server, runs[key])
    yield {**lab_server, "runs": runs, "work": work}


def _light_setting(lab: dict[str, Any]) -> None:
    """Each test starts in the light theme (an earlier one may have left the dark one set)."""
    request = urllib.request.Request(
        f"{lab['url']}/lab/api/settings/@jupyterlab/apputils-extension:themes",
        data=json.dumps({"raw": '{"theme": "JupyterLab Light"}'}).encode(), method="PUT",
        headers={"Authorization": f"token {lab['token']}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


def _page(lab: dict[str, Any], browser: Any, path: str = "lab/tree/sweep.ipynb") -> Any:
    _light_setting(lab)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text)
            if m.type == "error" and "flyte" in m.text.lower() else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{lab['url']}/{path}?token={lab['token']}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible")
    _dismiss_news(page)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('flyte-jupyter:open-run')")
    return page


def _open_run(page: Any, name: str, action: str | None = None) -> Any:
    page.evaluate("([run, action]) => window.jupyterapp.commands.execute('flyte-jupyter:open-panel', {run, action})",
                  [name, action])
    detail = page.locator(f"#flyte-jupyter-panel .jp-FlyteDetail[data-run='{name}']")
    detail.wait_for()
    return detail


def _dark(page: Any) -> None:
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("JupyterLab Dark")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(300)  # the theme's CSS settles before the picture (not an assertion)


def _light(page: Any) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    page.wait_for_timeout(300)  # the theme's CSS settles before the picture (not an assertion)


def test_series_origin_jump_rerun_and_clone(lab: dict[str, Any], browser: Any) -> None:
    page = _page(lab, browser)
    _open_panel(page)
    panel = page.locator("#flyte-jupyter-panel")
    # the series of the named cell: one entry, its newest run on top, the two earlier ones folded
    entry = panel.locator(".jp-FlyteRuns-item[data-series='sweep']").first
    entry.wait_for()
    assert entry.get_attribute("data-run") == "sweep-3"
    assert "3 runs" in entry.inner_text()
    # where it came from: the notebook by name and the cell's place in it (not "notebook · cell")
    assert "sweep.ipynb · cell 3" in entry.inner_text()
    # the backend: the embedded one, and what the running actions request of its capacity
    panel.locator(".jp-FlyteBackend", has_text="embedded backend").wait_for()
    load = panel.locator(".jp-FlyteBackend-load").inner_text()
    assert re.match(r"cpu \d+(\.\d+)? of \d+(\.\d+)? requested, memory \d+(\.\d)?[MG]i of \d+(\.\d)?[MG]i", load), load
    entry.locator(".jp-FlyteRuns-seriesToggle").click()
    earlier = panel.locator(".jp-FlyteRuns-earlier")
    page.wait_for_function("() => document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteRuns-earlier').length === 2")
    assert [earlier.nth(i).get_attribute("data-run") for i in range(2)] == ["sweep-2", "sweep"]
    _shot(page, "20-series-and-origins")

    # click the origin: the notebook opens at the cell the run came from
    page.click(".jp-NotebookPanel .jp-Cell >> nth=0")  # another cell is active before the jump
    panel.locator(".jp-FlyteRuns-earlier[data-run='sweep-2'] .jp-FlyteOrigin").click()
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.content?.activeCellIndex === 2")
    assert page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active").inner_text().find("the sweep cell ran") >= 0

    # Re-run works for a %%flyte run cell: the next name of its series, the stored cell again
    detail = _open_run(page, "sweep-3")
    rerun = detail.locator(".jp-FlyteRerun")
    assert not rerun.is_disabled()
    assert "re-run of" in detail.inner_text()
    rerun.click()
    page.wait_for_selector("#flyte-jupyter-panel .jp-FlyteDetail[data-run='sweep-4']")
    detail = panel.locator(".jp-FlyteDetail[data-run='sweep-4']")
    wait_run_succeeded(detail, lab, 120)
    assert "sweep.ipynb · cell 3" in detail.locator(".jp-FlyteDetail-meta").inner_text()

    # Clone of a task run: a form prefilled with its inputs; a bad value says why Run is off
    detail = _open_run(page, lab["runs"]["steady"])
    detail.locator(".jp-FlyteClone").click()
    dialog = page.locator(".jp-Dialog")
    field = dialog.locator("[data-input='x'] input")
    assert field.input_value() == "4"
    field.fill("four")
    dialog.locator(".jp-FlyteFieldError", has_text="whole number").wait_for()
    assert dialog.locator(".jp-mod-accept").is_disabled()
    assert "Run is off until" in dialog.locator(".jp-FlyteSubmit-blocked").inner_text()
    _shot(page, "21-clone-form-says-why")
    field.fill("7")
    assert not dialog.locator(".jp-mod-accept").is_disabled()
    dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(
        "(old) => { const d = document.querySelector('#flyte-jupyter-panel .jp-FlyteDetail');"
        " return d && d.dataset.run && d.dataset.run !== old; }", arg=lab["runs"]["steady"])
    clone = panel.locator(".jp-FlyteDetail")
    wait_run_succeeded(clone, lab, 120)
    clone.locator(".jp-FlyteTree-row[data-action='a0']").click()
    clone.locator(".jp-FlyteKV-inputs td", has_text="7").wait_for()
    assert page.errors == []
    page.close()


def test_failures_attempts_and_labels(lab: dict[str, Any], browser: Any) -> None:
    page = _page(lab, browser)
    _open_panel(page)
    # a failure three actions deep: the root cause once, and the path it travelled
    detail = _open_run(page, lab["runs"]["outer"])
    failure = detail.locator(".jp-FlyteFailure")
    failure.wait_for()
    text = failure.locator(".jp-FlyteFailure-cause").inner_text()
    assert text.startswith("ZeroDivisionError") and text.count("ZeroDivisionError") == 1, text
    assert "action " not in text and "failed:" not in text, text
    hops = failure.locator(".jp-FlyteFailure-hop").all_inner_texts()
    page.wait_for_function("() => [...document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteFailure-hop')]"
                           ".map(e => e.textContent).join(' ').includes('inner(d=0)')")
    hops = failure.locator(".jp-FlyteFailure-hop").all_inner_texts()
    assert hops == ["outer(d=0)", "middle(d=0)", "inner(d=0)"], hops
    box = failure.bounding_box()
    assert box is not None and box["height"] < 120, box  # not wrapped over 8 lines
    # the outermost action's own error (its message nests both children's) reads the same, once
    detail.locator(".jp-FlyteTree-row[data-action]", has_text="outer").click()
    own = detail.locator(".jp-FlyteAction .jp-FlyteError summary")
    own.wait_for()
    assert own.inner_text().count("ZeroDivisionError") == 1 and "action " not in own.inner_text(), own.inner_text()
    failure.locator(".jp-FlyteFailure-hop", has_text="inner").click()
    detail.locator(".jp-FlyteAction[data-action] .jp-FlyteTree-task", has_text="inner").wait_for()
    _shot(page, "22-nested-failure-once")

    # a task that failed twice then succeeded: every attempt, its error, log, times and backoff
    detail = _open_run(page, lab["runs"]["steady"])
    row = detail.locator(".jp-FlyteTree-row[data-action]", has_text="flaky")
    row.click()
    attempts = detail.locator(".jp-FlyteAttempt")
    page.wait_for_function("() => document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteAttempt').length === 3")
    assert [attempts.nth(i).get_attribute("data-phase") for i in range(3)] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert "lost its connection on attempt 1" in attempts.nth(0).inner_text()
    assert "retried after" in attempts.nth(0).inner_text()
    assert detail.locator(".jp-FlyteAction > .jp-FlyteError").count() == 0  # no stale red error
    attempts.nth(0).locator(".jp-FlyteAttempt-logToggle").click()
    page.wait_for_function(
        "() => (document.querySelector('#flyte-jupyter-panel .jp-FlyteAttempt-log[data-attempt=\"1\"]')?.textContent"
        " || '').includes('attempt 1 of flaky(4)')")
    assert "flaky(x=4)" in row.inner_text().replace(" ", "") or "(x=4)" in row.inner_text()
    _shot(page, "23-attempts")
    _dark(page)
    _shot(page, "24-attempts-dark")
    assert page.errors == []
    page.close()


def test_sweep_progress_wait_reason_main_area_and_widget_click(lab: dict[str, Any], browser: Any) -> None:
    page = _page(lab, browser)
    _open_panel(page)
    # submitted once the page is up: the sweep runs ~15 s, a loaded machine can take longer to load the page
    name = _as_the_kernel(lab, lab["work"], '''
        import flows
        run = flyte.with_runcontext(mode="remote", source="notebook").run(flows.sweep, n=20)
    ''')
    detail = _open_run(page, name)
    group = detail.locator(".jp-FlyteTree-groupRow")
    group.wait_for(timeout=60_000)
    # rows told apart by their inputs, the group's bar, its throughput and ETA while it runs
    page.wait_for_function(
        "() => document.querySelector('#flyte-jupyter-panel .jp-FlyteTree-groupRow .jp-FlyteTree-eta')", timeout=90_000)
    assert group.locator(".jp-FlyteProgress").count() == 1
    assert "/20" in group.inner_text()
    # each trial requests a core: the queued ones say why they wait, and the status line shows the
    # cores in use within moments of the trials starting (not at the next 30 s idle poll)
    page.wait_for_function(
        "() => /cpu \\d+ of \\d+ requested, memory \\d+(\\.\\d)?[MG]i of .*; \\d+ actions? waiting/.test("
        "document.querySelector('#flyte-jupyter-panel .jp-FlyteWaiting')?.textContent || '')",
        timeout=60_000)
    load = page.locator("#flyte-jupyter-panel .jp-FlyteBackend-load").inner_text()
    assert not load.startswith("cpu 0 of ") and "queued" in load, load
    group.click()  # 20 calls: folded at first
    page.wait_for_function(
        "() => [...document.querySelectorAll('#flyte-jupyter-panel .jp-FlyteTree-args')]"
        ".some(e => /\\(lr=0\\.0\\d+, i=\\d+\\)/.test(e.textContent))")
    _shot(page, "25-sweep-progress-and-waiting")

    # the run in the main area, beside the notebook: the tree and the logs full height
    detail.locator(".jp-FlyteOpenMain").click()
    view = page.locator(".jp-FlyteRunView .jp-FlyteDetail-main")
    view.wait_for()
    nb_box = page.locator(".jp-NotebookPanel").first.bounding_box()
    view_box = view.bounding_box()
    assert nb_box and view_box and view_box["x"] >= nb_box["x"] + nb_box["width"] - 5, (nb_box, view_box)
    view.locator(".jp-FlyteTree-groupRow").click()
    view.locator(".jp-FlyteTree-row[data-action]", has_text="trial").first.click()
    page.wait_for_function(
        "() => (document.querySelector('.jp-FlyteRunView .jp-FlyteLogs-text')?.textContent || '').includes('trial')",
        timeout=60_000)
    assert page.locator(".lm-DockPanel .lm-TabBar-tab", has_text=name).count() == 1  # a tab: drag it anywhere
    _shot(page, "26-run-in-main-area")
    wait_run_succeeded(view, lab, 180)
    # the run's end asks for the status again: the cores are free at once, not at the next idle poll (30 s)
    page.wait_for_function(
        "() => (document.querySelector('#flyte-jupyter-panel .jp-FlyteBackend-load')?.textContent || '')"
        ".startsWith('cpu 0 of ')", timeout=8_000)
    _dark(page)
    _shot(page, "27-run-in-main-area-dark")

    # a row of a cell's run widget opens that run in the panel, at that action
    page.evaluate("""(run) => {
        const out = document.querySelector('.jp-NotebookPanel .jp-Cell');
        const row = document.createElement('span');
        row.textContent = 'a0 (widget row)'; row.dataset.flyteRun = run; row.dataset.flyteAction = 'a0';
        row.className = 'flyte-test-widget-row'; out.appendChild(row); }""", lab["runs"]["steady"])
    page.click(".flyte-test-widget-row")
    panel = page.locator("#flyte-jupyter-panel")
    panel.locator(f".jp-FlyteDetail[data-run='{lab['runs']['steady']}'] .jp-FlyteAction[data-action='a0']").wait_for()
    assert page.errors == []
    page.close()


def test_submit_dialog_names_tasks_as_runs_do_and_says_why_run_is_off(lab: dict[str, Any], browser: Any) -> None:
    page = _page(lab, browser, "lab/tree/live.ipynb")
    # the toolbar of live.ipynb (a restored layout may hold other notebooks, hidden)
    page.get_by_role("tabpanel", name="live.ipynb").locator(
        ".jp-NotebookPanel-toolbar [data-command='flyte-jupyter:run-notebook']").click()
    dialog = page.locator(".jp-Dialog")
    select = dialog.locator(".jp-FlyteSubmit-task select, select.jp-FlyteSubmit-task").first
    try:
        select.wait_for()
    finally:
        _shot(page, "28-submit-dialog-opened")
    assert select.locator("option").all_inner_texts() == ["live.slow"]  # not env.slow
    n = dialog.locator("[data-input='n'] input")
    rate = dialog.locator("[data-input='rate'] input")
    accept = dialog.locator(".jp-mod-accept")
    dialog.locator(".jp-FlyteFieldError", has_text="n is required").wait_for()
    assert accept.is_disabled()
    n.fill("1.5")
    dialog.locator(".jp-FlyteFieldError", has_text="whole number").wait_for()
    assert accept.is_disabled()
    assert "n" in dialog.locator(".jp-FlyteSubmit-blocked").inner_text()
    _shot(page, "28-submit-says-why")
    n.fill("3")
    rate.fill("0.25")  # a fraction: a number input would have been :invalid, and Run grey for no reason
    assert not accept.is_disabled() and dialog.locator(".jp-FlyteFieldError").count() == 0
    accept.click()
    detail = page.locator("#flyte-jupyter-panel .jp-FlyteDetail")
    wait_run_succeeded(detail, lab, 120)
    assert "live.ipynb · live.slow" in detail.locator(".jp-FlyteDetail-meta").inner_text()
    assert page.errors == []
    page.close()
