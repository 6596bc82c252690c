"""The panel's Schedules tab, a run's Timeline tab and RECOVERED actions, in a real JupyterLab driven
by headless Debian Chromium:

- a task deployed with a minutely trigger (and one deployed paused) is listed with its task, schedule,
  state, next and last fire and its last run; Pause and Resume change the backend's trigger, and a
  refusal (the trigger deleted behind the panel's back) shows in the backend's words; the run the
  trigger fired names it in the runs list;
- a failed fan-out shows the kernel commands that carry on from it (`%flyte resume`, `%flyte debug`
  of the failed action) with a copy button;
- its re-run with `recover=True` shows the actions it reused as RECOVERED (success, not failure),
  each "recovered from" the source run with a link that opens it, the sql child tagged `sql`;
- the re-run's timeline draws a bar per action, the retried action's attempts as separate
  segments, the recovered ones as marks, and the critical path marked; in the main area too;
- a map of 64 past the sidebar's 60 rows is one folded row, and a click unfolds it.

Screenshots (light and dark) go to test-artifacts/lab/ as 4x-*.png.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from server.lab_helpers import deploy
from test_browser import _open_panel, _shot, wait_run_succeeded
from test_browser import browser as browser  # noqa: F401  (this module's own Chromium)
from test_browser import pytestmark as pytestmark  # noqa: F401  (chromium and the built panel)
from test_browser_runs import _as_the_kernel, _client_yaml, _dark, _get, _light, _open_run, _page, _until_done
from test_browser_runs import lab_server as lab_server  # noqa: F401  (this module's own JupyterLab)

SCHEDULED = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="sched")


@env.task(triggers=[flyte.Trigger("everymin", flyte.Cron("* * * * *")),
                    flyte.Trigger("weekly", flyte.Cron("0 9 * * 1", timezone="Europe/London"), auto_activate=False)])
def tick() -> str:
    return "tick"
'''

RECOVERABLE = '''
import asyncio
import os
import time
from pathlib import Path

import flyte_jupyter as flyte
from flyte_jupyter.plugins.sql import SQLite3Config, SQLite3Task

env = flyte.TaskEnvironment(name="recov")

count = SQLite3Task(name="recov.count", query_template="select count(*) as n from t where x > {{{{ .inputs.lo }}}}",
                    inputs={{"lo": int}}, task_config=SQLite3Config(uri={db!r}))


@env.task
def part(i: int) -> int:
    if i == 2 and os.environ.get("FIXED") != "1":
        time.sleep(1.0)  # the siblings end first
        raise RuntimeError("part 2 needs FIXED=1")
    return i * i


@env.task(retries=1)
def flaky(marker_dir: str) -> int:
    marker = Path(marker_dir, "flaky-failed-once")
    if not marker.exists():
        marker.write_text("1")
        raise ValueError("the first attempt fails")
    return 7


@env.task
def sq(i: int) -> int:
    return i * i


@env.task
def wide(n: int) -> int:
    return sum(flyte.map(sq, range(n)))


@env.task
async def fan(n: int, marker_dir: str) -> int:
    await count.aio(lo=0)
    parts = await asyncio.gather(*[part.aio(i) for i in range(n)])
    return sum(parts) + await flaky.aio(marker_dir)
'''


def _wait(what: str, fn: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


# each test opens its page in a workspace of its own: the layout an earlier test left (a notebook
# and a run in the main area) is not restored over it

def _notebook(path: Path) -> None:
    """A notebook to open the page on (with its kernelspec, so no kernel dialog covers the panel)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import flyte_jupyter as flyte")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, str(path))


def _triggers(lab: dict[str, Any]) -> dict[str, Any]:
    return {t["name"]: t for t in _get(lab, "triggers")["triggers"]}


def test_schedules_tab_lists_pauses_and_resumes_triggers(lab_server: dict[str, Any], browser: Any,
                                                         tmp_path: Path) -> None:
    lab = lab_server
    client_yaml = _client_yaml(lab)
    module = tmp_path / "schedmod.py"
    module.write_text(SCHEDULED)
    deploy(client_yaml, module, project="default", domain="development", version="v1", data_dir=tmp_path / "cli")
    _notebook(lab["root"] / "sched.ipynb")
    # the minutely trigger fires at the next minute: its run is the trigger's last run
    fired = _wait("the minutely trigger's first fire", lambda: _triggers(lab)["everymin"]["last_run"], 100)

    page = _page(lab, browser, "lab/workspaces/sched/tree/sched.ipynb")
    _open_panel(page)
    panel = page.locator("#flyte-jupyter-panel")
    # the runs list names the trigger that started a run
    panel.locator(f".jp-FlyteRuns-item[data-run='{fired}'] .jp-FlyteRuns-trigger[data-trigger='everymin']").wait_for()
    panel.locator(".jp-FlyteTab[data-view='schedules']").click()
    row = panel.locator(".jp-FlyteTrigger[data-trigger='everymin'][data-task='sched.tick']")
    row.wait_for()
    assert row.get_attribute("data-active") == "true"
    assert row.locator(".jp-FlyteTrigger-state").inner_text() == "active"
    assert row.locator(".jp-FlyteTrigger-task").inner_text() == "sched.tick @ v1"
    assert row.locator(".jp-FlyteTrigger-schedule").inner_text() == "cron * * * * * (UTC)"
    assert "in " in row.locator("tr[data-fact='next']").inner_text()
    assert "ago" in row.locator("tr[data-fact='last']").inner_text()
    assert row.locator(".jp-FlyteTrigger-lastRun").inner_text() == fired
    weekly = panel.locator(".jp-FlyteTrigger[data-trigger='weekly']")
    assert weekly.get_attribute("data-active") == "false"
    assert weekly.locator(".jp-FlyteTrigger-schedule").inner_text() == "cron 0 9 * * 1 (Europe/London)"
    assert "paused" in weekly.locator("tr[data-fact='next']").inner_text()
    assert "never fired" in weekly.locator("tr[data-fact='last']").inner_text()
    assert weekly.locator(".jp-FlyteTrigger-toggle").inner_text() == "Resume"
    _shot(page, "40-schedules")

    # Pause: the backend's trigger is paused (no next fire), and the row says so; Resume undoes it
    row.locator(".jp-FlyteTrigger-toggle", has_text="Pause").click()
    panel.locator(".jp-FlyteTrigger[data-trigger='everymin'][data-active='false']").wait_for()
    assert _triggers(lab)["everymin"]["paused"] is True and _triggers(lab)["everymin"]["next_fire"] is None
    assert "paused" in row.locator("tr[data-fact='next']").inner_text()
    row.locator(".jp-FlyteTrigger-toggle", has_text="Resume").click()
    panel.locator(".jp-FlyteTrigger[data-trigger='everymin'][data-active='true']").wait_for()
    assert _triggers(lab)["everymin"]["active"] is True
    row.locator(".jp-FlyteTrigger-toggle", has_text="Pause").click()  # no more fires during the test
    panel.locator(".jp-FlyteTrigger[data-trigger='everymin'][data-active='false']").wait_for()
    _dark(page)
    _shot(page, "41-schedules-dark")

    # a trigger deleted behind the panel's back: Resume is refused in the backend's words
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(client_yaml)}
    done = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "triggers", "delete", "weekly", "--task",
                           "sched.tick"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    weekly.locator(".jp-FlyteTrigger-toggle").click()
    error = weekly.locator(".jp-FlyteTrigger-error")
    error.wait_for()
    assert "weekly" in error.inner_text() and "sched.tick" in error.inner_text(), error.inner_text()
    assert weekly.get_attribute("data-active") == "false"  # the row still shows what the server said
    _shot(page, "42-schedules-refused-dark")

    # the last run opens in the panel, and says which trigger started it
    row.locator(".jp-FlyteTrigger-lastRun").click()
    detail = panel.locator(f".jp-FlyteDetail[data-run='{fired}']")
    detail.wait_for()
    detail.locator(".jp-FlyteDetail-name .jp-FlyteRuns-trigger[data-trigger='everymin']").wait_for()
    assert page.errors == []
    page.close()


def test_failed_run_commands_recovered_rerun_and_timeline(lab_server: dict[str, Any], browser: Any,
                                                          tmp_path: Path) -> None:
    lab = lab_server
    db = tmp_path / "recov.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (x int)")
        conn.executemany("insert into t values (?)", [(i,) for i in range(5)])
    work = tmp_path / "work"
    work.mkdir()
    (work / "recovmod.py").write_text(RECOVERABLE.format(db=str(db)))
    markers = tmp_path / "markers"
    markers.mkdir()
    source = _as_the_kernel(lab, work, f'''
        import recovmod
        run = flyte.with_runcontext(mode="remote", source="notebook").run(recovmod.fan, n=4, marker_dir={str(markers)!r})
    ''')
    assert _until_done(lab, source)["phase"] == "FAILED"
    source_actions = _get(lab, f"runs/{source}")["actions"]
    failed = [a["name"] for a in source_actions if a["phase"] == "FAILED" and a["task"].endswith("part")]
    assert len(failed) == 1, source_actions
    rerun = _as_the_kernel(lab, work, f'''
        run = flyte.with_runcontext(mode="remote", env_vars={{"FIXED": "1"}}).rerun({source!r}, recover=True)
    ''')
    assert _until_done(lab, rerun)["phase"] == "SUCCEEDED"
    actions = {a["name"]: a for a in _get(lab, f"runs/{rerun}")["actions"]}
    recovered = sorted(n for n, a in actions.items() if a["phase"] == "RECOVERED")
    assert len(recovered) == 4, actions  # the sql child and parts 0, 1, 3
    _notebook(lab["root"] / "recov.ipynb")

    page = _page(lab, browser, "lab/workspaces/recov/tree/recov.ipynb")
    _open_panel(page)
    panel = page.locator("#flyte-jupyter-panel")

    # the failed run: the commands that carry on from it in a notebook, to copy
    detail = _open_run(page, source)
    resume = detail.locator(".jp-FlyteCommand[data-kind='resume']")
    assert resume.locator(".jp-FlyteCommand-text").inner_text() == f"%flyte resume {source}"
    debug = detail.locator(".jp-FlyteCommand[data-kind='debug']")
    assert debug.locator(".jp-FlyteCommand-text").inner_text() == f"%flyte debug {source} {failed[0]}"
    debug.locator(".jp-FlyteCommand-copy").click()
    debug.locator(".jp-FlyteCommand-copy", has_text="copied").wait_for()
    _shot(page, "43-failed-run-commands")

    # the re-run: RECOVERED rows are successes with their source, the sql child tagged
    detail = _open_run(page, rerun)
    wait_run_succeeded(detail, lab, 60)
    assert detail.locator(".jp-FlyteCommands").count() == 0  # nothing to resume
    rows = detail.locator(".jp-FlyteTree-row[data-phase='RECOVERED']")
    rows.first.wait_for()
    assert sorted(rows.nth(i).get_attribute("data-action") for i in range(rows.count())) == recovered
    for i in range(rows.count()):
        link = rows.nth(i).locator(".jp-FlyteTree-recovered .jp-FlyteRecoveredLink")
        assert link.inner_text() == source and rows.nth(i).locator(".jp-FlyteTree-recovered").inner_text() == \
            f"recovered from {source}"
    badge = rows.first.locator(".jp-FlyteDot")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 137, 123)"  # #00897b
    sql_row = detail.locator(".jp-FlyteTree-row", has=page.locator(".jp-FlyteTree-taskType[data-task-type='sql']"))
    assert sql_row.count() == 1 and sql_row.get_attribute("data-phase") == "RECOVERED"
    assert detail.locator(".jp-FlyteTree-taskType").count() == 1  # python rows carry no type tag
    flaky = next(n for n, a in actions.items() if a["task"].endswith("flaky"))
    assert actions[flaky]["attempts"] == 2
    rows.first.click()
    detail.locator(".jp-FlyteAction-recovered", has_text=f"recovered from {source}").wait_for()
    assert detail.locator(".jp-FlyteAction .jp-FlyteError").count() == 0  # a success shows no error
    _shot(page, "44-recovered-rows")
    _dark(page)
    _shot(page, "45-recovered-rows-dark")

    # its timeline: a bar per action, the retry as two attempts, recovered marks, the critical path
    detail.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='timeline']").click()
    svg = detail.locator(".jp-FlyteTimeline-svg")
    svg.wait_for()
    bars = detail.locator(".jp-FlyteTimeline-bar")
    assert sorted(bars.nth(i).get_attribute("data-key") for i in range(bars.count())) == sorted(actions)
    flaky_bar = detail.locator(f".jp-FlyteTimeline-bar[data-key='{flaky}']")
    attempts = {flaky_bar.locator(".jp-FlyteTimeline-seg[data-kind='running']").nth(i).get_attribute("data-attempt")
                for i in range(flaky_bar.locator(".jp-FlyteTimeline-seg[data-kind='running']").count())}
    assert attempts == {"1", "2"}
    failed_seg = flaky_bar.locator(".jp-FlyteTimeline-seg[data-attempt='1'][data-kind='running']")
    assert failed_seg.get_attribute("data-phase") == "FAILED"
    title = failed_seg.locator("title").text_content() or ""
    assert flaky in title and "attempt 1 running (FAILED)" in title and "CPU" in title, title
    for name in recovered:
        assert detail.locator(f".jp-FlyteTimeline-bar[data-key='{name}'] "
                              ".jp-FlyteTimeline-seg[data-kind='recovered']").count() == 1
    critical = _get(lab, f"runs/{rerun}/timeline")["critical_path"]
    assert critical and critical[0] == "a0"
    marked = detail.locator(".jp-FlyteTimeline-bar.jp-mod-critical")
    assert sorted(marked.nth(i).get_attribute("data-key") for i in range(marked.count())) == sorted(critical)
    # a bar is an action: a click selects it
    flaky_bar.click()
    detail.locator(f".jp-FlyteAction[data-action='{flaky}']").wait_for()
    _shot(page, "46-timeline-dark")
    _light(page)
    _shot(page, "47-timeline")

    # the main-area run view shares the component: the same bars, wide
    detail.locator(".jp-FlyteOpenMain").click()
    view = page.locator(".jp-FlyteRunView .jp-FlyteDetail-main")
    view.wait_for()
    view.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='timeline']").click()
    view.locator(f".jp-FlyteTimeline-bar[data-key='{flaky}'] .jp-FlyteTimeline-seg[data-attempt='2']").first.wait_for()
    assert view.locator(".jp-FlyteTimeline-bar").count() == len(actions)
    # the timeline fills its column, which is wider than the sidebar's while the timeline shows
    column = view.locator(".jp-FlyteDetail-left").bounding_box()["width"]
    assert view.locator(".jp-FlyteTimeline-svg").bounding_box()["width"] >= 0.9 * column - 20
    assert column > panel.bounding_box()["width"]
    _shot(page, "48-timeline-main-area")

    # a recovered row's link opens the run its outputs came from
    detail.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='tree']").click()
    detail.locator(f".jp-FlyteTree-row[data-action='{recovered[0]}'] .jp-FlyteRecoveredLink").click()
    panel.locator(f".jp-FlyteDetail[data-run='{source}']").wait_for()
    assert page.errors == []
    page.close()


def test_timeline_folds_a_wide_map_and_unfolds_it(lab_server: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    lab = lab_server
    db = tmp_path / "unused.db"
    work = tmp_path / "work"
    work.mkdir()
    (work / "recovmod.py").write_text(RECOVERABLE.format(db=str(db)))
    name = _as_the_kernel(lab, work, """
        import recovmod
        run = flyte.with_runcontext(mode="remote", source="notebook").run(recovmod.wide, n=64)
    """)
    assert _until_done(lab, name)["phase"] == "SUCCEEDED"
    _notebook(lab["root"] / "wide.ipynb")
    page = _page(lab, browser, "lab/workspaces/wide/tree/wide.ipynb")
    _open_panel(page)
    detail = _open_run(page, name)
    detail.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='timeline']").click()
    folded = detail.locator(".jp-FlyteTimeline-bar.jp-mod-folded")
    folded.wait_for()
    bars = detail.locator(".jp-FlyteTimeline-bar")
    assert bars.count() == 2  # the root, and its 64 children as one row past the sidebar's 60
    assert (folded.get_attribute("data-key") or "").startswith("group:")
    assert (folded.locator(".jp-FlyteTimeline-label").text_content() or "").endswith(" ×64")
    assert "64 SUCCEEDED" in (folded.locator(".jp-FlyteTimeline-label title").text_content() or "")
    _shot(page, "49-timeline-folded")
    folded.click()
    page.wait_for_function(
        "([run]) => document.querySelectorAll(`.jp-FlyteDetail[data-run='${run}'] .jp-FlyteTimeline-bar`).length === 65",
        arg=[name])
    assert detail.locator(".jp-FlyteTimeline-bar.jp-mod-folded").count() == 0
    _shot(page, "50-timeline-unfolded")
    assert page.errors == []
    page.close()
