"""The panel's Tasks view (issue 13) in a real JupyterLab driven by headless Debian Chromium: a task
deployed twice with `flyte-jupyter deploy` to JupyterLab's embedded backend is listed with both
versions (the newest marked latest) and its interface; the Launch form made from its typed inputs
refuses a bad value before anything is sent, shows the server's and the backend's refusals in their
words, and a launch opens the run in the panel, where it succeeds with the registered code and
names its task and version (a link back to the Tasks view).

Screenshots (light and dark) go to test-artifacts/lab/ as 3x-*.png.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any

import nbformat
from server.lab_helpers import deploy
from test_browser import _open_panel, _shot, wait_run_succeeded
from test_browser import browser as browser  # noqa: F401  (this module's own Chromium)
from test_browser import pytestmark as pytestmark  # noqa: F401  (chromium and the built panel)
from test_browser_runs import _client_yaml, _dark, _get, _page, _until_done
from test_browser_runs import lab_server as lab_server  # noqa: F401  (this module's own JupyterLab)

MODULE = '''
import datetime
from typing import Optional

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="launch", resources=flyte.Resources(cpu=1, memory="100Mi"))


@env.task(retries=1)
async def greet(name: str, times: int = 2, scale: float = 0.5, day: Optional[datetime.date] = None) -> str:
    """Greets NAME, TIMES times ({tag})."""
    when = day.isoformat() if day else "any day"
    return "{tag}:" + " ".join([name] * times) + f" x{{scale}} on {{when}}"
'''


def _set_memory_limit(client_yaml: Path, memory: str) -> None:
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    async def go() -> None:
        client = BackendClient.from_file(client_yaml)
        try:
            await client.set_limits("default", "development", memory=memory or None)
        finally:
            await client.close()

    # Playwright's sync API holds this thread's event loop: the client runs on a thread of its own
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result(timeout=60)


def test_tasks_view_lists_versions_and_launches_with_typed_inputs(lab_server: dict[str, Any], browser: Any,
                                                                  tmp_path: Path) -> None:
    lab = lab_server
    client_yaml = _client_yaml(lab)
    module = tmp_path / "launchmod.py"
    for version in ("v1", "v2"):
        module.write_text(MODULE.format(tag=version))
        deploy(client_yaml, module, project="default", domain="development", version=version,
               data_dir=tmp_path / "cli")
    module.write_text(MODULE.format(tag="local-edit"))  # the file changes after the deploys
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import flyte_jupyter as flyte")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, str(lab["root"] / "tasks.ipynb"))

    page = _page(lab, browser, "lab/tree/tasks.ipynb")
    _open_panel(page)
    panel = page.locator("#flyte-jupyter-panel")
    panel.locator(".jp-FlyteTab[data-view='tasks']").click()
    group = panel.locator(".jp-FlyteTasks-group[data-where='default / development']")
    task = group.locator(".jp-FlyteTasks-task[data-task='launch.greet']")
    task.wait_for()
    assert "v2 · 2 versions" in task.locator(".jp-FlyteTasks-row").inner_text()
    task.locator(".jp-FlyteTasks-row").click()
    chips = task.locator(".jp-FlyteTasks-version")
    chips.first.wait_for()
    assert [chips.nth(i).get_attribute("data-version") for i in range(chips.count())] == ["v2", "v1"]
    assert "latest" in chips.nth(0).inner_text() and "latest" not in chips.nth(1).inner_text()
    # the interface of the version chosen: typed inputs with their registered defaults, resources
    task.locator(".jp-FlyteTasks-version[data-version='v1']").click()
    detail = task.locator(".jp-FlyteTasks-detail")
    detail.locator(".jp-FlyteTasks-title", has_text="@ v1").wait_for()
    assert "(v1)" in detail.locator(".jp-FlyteTasks-docs").inner_text()
    times_row = detail.locator(".jp-FlyteTasks-inputs tr[data-input='times']").inner_text()
    assert "int" in times_row and "= 2" in times_row, times_row
    assert "Optional[datetime.date]" in detail.locator(".jp-FlyteTasks-inputs tr[data-input='day']").inner_text()
    assert "cpu=1, memory=100Mi" in detail.locator(".jp-FlyteTasks-facts").inner_text()

    # the Launch form: a value of the wrong type is refused as it is typed, Launch stays off
    form = detail.locator(".jp-FlyteLaunch")
    launch = form.locator(".jp-FlyteLaunch-go")
    form.locator("[data-input='name'] input").fill("ada")
    form.locator("[data-input='times'] input").fill("three")
    form.locator(".jp-FlyteFieldError", has_text="times must be a whole number").wait_for()
    assert launch.is_disabled()
    assert "Launch is off until this input is fixed: times" in form.locator(".jp-FlyteSubmit-blocked").inner_text()
    _shot(page, "30-tasks-launch-type-error")
    form.locator("[data-input='times'] input").fill("3")
    assert not launch.is_disabled()

    # the server checks by the registered type (no date is "tuesday"), the backend by its limits
    form.locator("[data-input='day'] input").fill("tuesday")
    launch.click()
    refused = form.locator(".jp-FlyteLaunch-refused")
    refused.wait_for()
    assert refused.get_attribute("data-field") == "day"
    assert "ISO text" in refused.inner_text(), refused.inner_text()
    form.locator("[data-input='day'] input").fill("2026-12-01")
    _set_memory_limit(client_yaml, "50Mi")
    try:
        launch.click()
        form.locator(".jp-FlyteLaunch-refused", has_text="Requested MEMORY limit [100Mi]").wait_for()
        _shot(page, "31-tasks-launch-refused-by-backend")
    finally:
        _set_memory_limit(client_yaml, "")  # no limit again
    names_before = {r["name"] for r in _get(lab, "runs")["runs"]}

    # launched: the run opens in the panel and succeeds with v1's code (not the file as it is now)
    launch.click()
    run_detail = panel.locator(".jp-FlyteDetail")
    run_detail.wait_for()
    run_name = run_detail.get_attribute("data-run")
    assert run_name and run_name not in names_before
    wait_run_succeeded(run_detail, lab, 120)
    deployed = run_detail.locator(".jp-FlyteDetail-deployed")
    assert deployed.inner_text().strip() == "deployed task launch.greet @ v1 in default / development"
    assert _until_done(lab, run_name)["phase"] == "SUCCEEDED"
    out = _get(lab, f"runs/{run_name}/actions/a0")["outputs"]["o0"]
    assert "v1:ada ada ada x0.5 on 2026-12-01" in out, out
    _shot(page, "32-tasks-launched-run")

    # the run's "task @ version" leads back to that version in the Tasks view
    deployed.locator(".jp-FlyteDeployedLink").click()
    panel.locator(".jp-FlyteTasks-task.jp-mod-open[data-task='launch.greet'] "
                  ".jp-FlyteTasks-version.jp-mod-selected[data-version='v1']").wait_for()
    _shot(page, "33-tasks-view")
    _dark(page)
    _shot(page, "34-tasks-view-dark")
    assert page.errors == []
    page.close()
