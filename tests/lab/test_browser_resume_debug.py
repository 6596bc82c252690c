"""Resume and Debug from a real JupyterLab, driven by headless Debian Chromium (issue 17):

- the run WIDGET of a failed remote run started from a notebook cell: after the failing task is
  fixed in a cell, its Resume button starts a new run with the fixed code whose tree shows the
  succeeded actions as recovered from the source run, and the run succeeds; the failed action's
  "debug here" button re-runs its task in the kernel with its recorded inputs, and `%debug` then
  opens the post-mortem debugger on the raising frame, where the inputs are the real ones;
- the PANEL's Resume and Debug buttons on the same run put `%flyte resume RUN` / `%flyte debug RUN
  ACTION` in a new cell below the active one of the current notebook and run it in its kernel (the
  new run's widget, the traceback); with no notebook open they say so;
- the timeline of a 200-action run in the widget's timeline tab and in the panel (sidebar and main
  area), in the light and the dark theme.

Screenshots go to test-artifacts/lab/ as 6x-*.png (light and dark).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import nbformat
from test_browser import _open_panel, _shot
from test_browser import browser as browser  # noqa: F401  (this module's own Chromium)
from test_browser import pytestmark as pytestmark  # noqa: F401  (chromium and the built panel)
from test_browser_runs import _client_yaml, _dark, _get, _light, _open_run, _page, _until_done
from test_browser_runs import lab_server as lab_server  # noqa: F401  (this module's own JupyterLab)

TASKS = '''
import asyncio
env = flyte.TaskEnvironment("resumable")

@env.task
async def step(i: int) -> int:
    return i + 1

@env.task
async def finish(total: int) -> int:
    scaled = total * 10
    raise ValueError(f"finish is broken for total={total}")

@env.task
async def pipeline(n: int) -> int:
    parts = await asyncio.gather(*[step(i) for i in range(n)])
    return await finish(sum(parts))

@env.task
def sq(i: int) -> int:
    return i * i

@env.task
def wide(n: int) -> int:
    return sum(flyte.map(sq, range(n)))
'''

FIX = '''
@env.task
async def finish(total: int) -> int:
    return total * 10
'''


def _notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, str(path))


def _run_cell(page: Any, index: int) -> None:
    """Run one cell of the notebook in the main area: click its prompt, then Shift+Enter."""
    page.get_by_text("| Idle").first.wait_for(timeout=120_000)  # the kernel is up
    _cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def _setup(lab: dict[str, Any]) -> str:
    return f"import flyte_jupyter as flyte\n%load_ext flyte_jupyter\n%flyte connect {_client_yaml(lab)}"


def _wait_view(page: Any, lab: dict[str, Any], view: Any, condition: str, timeout: float = 120) -> None:
    """Wait until a run widget's text meets `condition` (JavaScript over `el`). On a timeout the
    failure says what the widget shows and what the server knows of every run, so a run that never
    ended reads differently from a widget left behind a run that did."""
    try:
        page.wait_for_function(f"(el) => {condition}", arg=view.element_handle(), timeout=timeout * 1000)
    except Exception as err:
        try:
            runs = ", ".join(f"{r['name']}:{r['phase']}" for r in _get(lab, "runs")["runs"])
        except Exception as get_err:  # the diagnosis must not hide the failure
            runs = f"(the server could not be asked: {get_err})"
        raise AssertionError(f"the widget did not meet {condition!r} in {timeout:.0f} s; it shows "
                             f"{view.inner_text(timeout=5_000)[:3000]!r}; the server's runs: {runs}") from err


def test_resume_and_debug_from_the_widget_and_the_panel(lab_server: dict[str, Any], browser: Any) -> None:
    lab = lab_server
    _notebook(lab["root"] / "resume.ipynb", [
        _setup(lab), TASKS, "%flyte run --name wsrc pipeline --n 6", FIX, "%debug"])
    page = _page(lab, browser, "lab/workspaces/resume/tree/resume.ipynb")
    try:
        _widget_and_panel(lab, page)
    except BaseException:
        _shot(page, "6x-failure")
        raise


def _widget_and_panel(lab: dict[str, Any], page: Any) -> None:
    for i in range(3):
        _run_cell(page, i)
    widget = _cell(page, 2).locator(".flyte-run-view").first
    resume = widget.locator(".flyte-resume")
    resume.wait_for(state="visible", timeout=180_000)  # shown once the run FAILED
    assert _until_done(lab, "wsrc")["phase"] == "FAILED"
    actions = _get(lab, "runs/wsrc")["actions"]
    failed = next(a["name"] for a in actions if a["task"] == "resumable.finish")
    _shot(page, "60-widget-failed-resume")

    # Debug: the failed action's row opens, "debug here" re-runs its body in the kernel
    row = widget.locator(".flyte-action-row", has=page.locator(f"[data-flyte-action='{failed}']")).last
    row.locator("button").first.click()
    debug = widget.locator(".flyte-debug-button").first
    debug.wait_for(state="visible")
    debug.click()
    out = widget.locator(".jp-OutputArea-output", has_text="run %debug in a cell").first
    out.wait_for(timeout=120_000)
    text = widget.inner_text()
    assert f"debugging action {failed} of run wsrc: task resumable.finish" in text, text
    assert "total = 21" in text and "ValueError: finish is broken for total=21" in text, text
    _shot(page, "61-widget-debug-here")

    # the post-mortem: %debug stops on the raising frame with the recorded inputs
    _run_cell(page, 4)
    prompt = _cell(page, 4).locator(".jp-Stdin-input").last
    prompt.wait_for(timeout=60_000)
    prompt.fill("p (total, scaled)")
    prompt.press("Enter")
    _cell(page, 4).locator(".jp-OutputArea-output", has_text="(21, 210)").wait_for(timeout=30_000)
    raising = _cell(page, 4).inner_text()
    assert 'raise ValueError(f"finish is broken' in raising, raising
    _shot(page, "62-widget-post-mortem")
    page.wait_for_function(  # pdb asks again: the answered prompt has gone, one input is left
        "(el) => el.querySelectorAll('.jp-Stdin-input').length === 1", arg=_cell(page, 4).element_handle())
    _cell(page, 4).locator(".jp-Stdin-input").last.fill("q")
    _cell(page, 4).locator(".jp-Stdin-input").last.press("Enter")
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)

    # Resume with the fixed code (cell 3): a new run, the steps recovered from wsrc, and it succeeds
    _run_cell(page, 3)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)
    resume.click()
    resumed = widget.locator(".flyte-run-view").first  # the new run's widget, under the old one
    resumed.wait_for(timeout=120_000)
    _wait_view(page, lab, resumed, "el.innerText.includes('SUCCEEDED')")
    names = [r["name"] for r in _get(lab, "runs")["runs"] if r["name"] != "wsrc"]
    new = next(n for n in names if (_get(lab, f"runs/{n}").get("origin") or {}).get("rerun_of") == "wsrc"
               or any((a.get("recovered_from") or "").startswith("wsrc/") for a in _get(lab, f"runs/{n}")["actions"]))
    new_actions = _get(lab, f"runs/{new}")["actions"]
    phases = sorted((a["task"], a["phase"]) for a in new_actions)
    assert phases.count(("resumable.step", "RECOVERED")) == 6, phases
    assert ("resumable.finish", "SUCCEEDED") in phases and _until_done(lab, new)["phase"] == "SUCCEEDED"
    page.wait_for_function("(el) => (el.innerText.match(/recovered from wsrc/g) || []).length >= 6",
                           arg=resumed.element_handle(), timeout=60_000)
    resumed.scroll_into_view_if_needed()
    _shot(page, "63-widget-resumed")

    # the panel's buttons on the same failed run: each runs its command in a new cell of the notebook
    _open_panel(page)
    detail = _open_run(page, "wsrc")
    panel_resume = detail.locator(".jp-FlyteCommand[data-kind='resume'] .jp-FlyteCommand-run")
    panel_debug = detail.locator(".jp-FlyteCommand[data-kind='debug'] .jp-FlyteCommand-run")
    assert panel_resume.inner_text() == "Resume" and panel_debug.inner_text() == "Debug"
    # what the run cost: its totals, and per attempt in the action's details
    total = detail.locator(".jp-FlyteDetail-cost").inner_text()
    assert total.startswith("total CPU ") and "peak memory" in total and "MiB" in total, total
    detail.locator(f".jp-FlyteTree-row[data-action='{failed}']").click()
    cost = detail.locator(f".jp-FlyteAction[data-action='{failed}'] .jp-FlyteAction-cost")
    cost.wait_for()
    assert cost.inner_text().startswith("CPU ") and "peak memory" in cost.inner_text(), cost.inner_text()
    _shot(page, "64-panel-resume-debug-buttons")
    cells_before = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").count()
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 1; }")
    panel_debug.click()
    added = _cell(page, 2)  # below the active cell (1)
    page.wait_for_function(
        "([n]) => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length"
        " === n", arg=[cells_before + 1])
    assert f"%flyte debug wsrc {failed}" in added.locator(".jp-InputArea").inner_text()
    added.locator(".jp-OutputArea-output", has_text="ValueError: finish is broken for total=21").wait_for(
        timeout=120_000)
    assert "running in resume.ipynb" in detail.locator(".jp-FlyteCommand[data-kind='debug']").inner_text()
    _shot(page, "65-panel-debug-ran-in-notebook")
    panel_resume.click()
    page.wait_for_function(
        "([n]) => document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length"
        " === n", arg=[cells_before + 2])
    added = _cell(page, 3)  # the debug cell is now the active one: resume goes below it
    assert "%flyte resume wsrc" in added.locator(".jp-InputArea").inner_text()
    view = added.locator(".flyte-run-view").first
    view.wait_for(timeout=120_000)
    _wait_view(page, lab, view, "el.innerText.includes('SUCCEEDED') && "
               "(el.innerText.match(/recovered from wsrc/g) || []).length >= 6")
    _shot(page, "66-panel-resume-ran-in-notebook")
    _dark(page)
    _shot(page, "67-panel-resume-ran-in-notebook-dark")

    # with no notebook open the buttons say what to do
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
    page.wait_for_function("() => !document.querySelector('.jp-NotebookPanel')")
    detail.locator(".jp-FlyteCommand[data-kind='resume'] .jp-FlyteCommand-run").click()
    alert = detail.locator(".jp-FlyteCommand[data-kind='resume'] .jp-FlyteCommand-note[role='alert']")
    alert.wait_for()
    assert "No notebook is open" in alert.inner_text()
    _shot(page, "68-panel-no-notebook-dark")
    assert page.errors == []
    page.close()


def _box_now(element: Any) -> dict[str, float] | None:
    """Its box, or None when a re-render removed it (not a wait for one that comes back)."""
    try:
        return element.bounding_box(timeout=500)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: gone meanwhile
        return None


def _widest_box(segments: Any, timeout: float = 10.0) -> dict[str, float]:
    """The box of the widest drawn segment among `segments` (a re-render may replace them between
    a look and the next, so it looks again until one is drawn, up to `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        boxes = [b for b in (_box_now(segments.nth(i)) for i in range(segments.count())) if b and b["width"] > 4]
        if boxes:
            return max(boxes, key=lambda b: b["width"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no segment of {segments.count()} is drawn wider than 4 px")
        time.sleep(0.1)


def test_timeline_of_200_actions_in_the_widget_and_the_panel(lab_server: dict[str, Any], browser: Any) -> None:
    lab = lab_server
    _notebook(lab["root"] / "wide.ipynb", [_setup(lab), TASKS, "%flyte run --name wide200 wide --n 199"])
    page = _page(lab, browser, "lab/workspaces/wide200/tree/wide.ipynb")
    for i in range(3):
        _run_cell(page, i)
    widget = _cell(page, 2).locator(".flyte-run-view").first
    widget.wait_for(timeout=120_000)
    assert _until_done(lab, "wide200")["phase"] == "SUCCEEDED"
    assert len(_get(lab, "runs/wide200")["actions"]) == 200
    page.wait_for_function("(el) => el.innerText.includes('SUCCEEDED')", arg=widget.element_handle(),
                           timeout=60_000)
    widget.locator(".flyte-view-tabs button", has_text="timeline").click()
    svg = widget.locator(".flyte-timeline svg")
    try:
        svg.wait_for()
    except Exception as exc:  # noqa: BLE001 - playwright's TimeoutError: say what the widget showed instead
        # (CI once waited 60 s here, not reproduced since: did the click reach the tab, and the kernel?)
        state = widget.evaluate("(el) => ({tabs: [...el.querySelectorAll('.flyte-view-tabs button')]"
                                ".map(b => b.textContent + ':' + b.className), timeline: "
                                "(el.querySelector('.flyte-timeline') || {}).outerHTML?.slice(0, 600)})")
        raise AssertionError(f"no timeline drawn after the tab's click: {state}") from exc
    segs = widget.locator(".flyte-timeline svg .flyte-seg")
    assert segs.count() >= 200, segs.count()
    # each row says which call it is, as the tree does (the inputs are read once the tab is shown)
    page.wait_for_function("(el) => el.textContent.includes('sq(i=0)') && el.textContent.includes('sq(i=198)')",
                           arg=widget.locator(".flyte-timeline").element_handle(), timeout=60_000)
    _cell(page, 2).scroll_into_view_if_needed()
    _shot(page, "69-widget-timeline-200")
    # as wide as the output area: the bars end at its right edge, in a wide and a narrow notebook,
    # while the labels keep their size (11 px text in a 230 px column)
    area = widget.locator(".flyte-timeline")
    for width in (1400, 1000):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # the layout settles (not an assertion)
        box, plot = area.bounding_box(), svg.bounding_box()
        assert box and plot and plot["x"] + plot["width"] <= box["x"] + box["width"] + 1, (width, box, plot)
        assert plot["width"] > 0.5 * (box["width"] - 240), (width, box, plot)  # it fills the area
        root = widget.locator(".flyte-timeline-row[data-action='a0'] .flyte-seg").last.bounding_box()
        assert root and root["x"] + root["width"] <= box["x"] + box["width"] + 1, (width, box, root)
        label = widget.locator(".flyte-timeline-row[data-action='a0'] text").first.bounding_box()
        assert label and box["x"] <= label["x"] and 8 <= label["height"] <= 16, (width, label)
    _cell(page, 2).scroll_into_view_if_needed()
    _shot(page, "69b-widget-timeline-200-narrow")
    # narrower than the label column and a minimal bar area: it scrolls sideways, nothing is cut off
    page.set_viewport_size({"width": 700, "height": 900})
    page.wait_for_function("(el) => el.scrollWidth > el.clientWidth && el.scrollWidth >= 470",
                           arg=area.element_handle())
    page.set_viewport_size({"width": 1400, "height": 900})
    _dark(page)
    _shot(page, "70-widget-timeline-200-dark")

    _open_panel(page)
    detail = _open_run(page, "wide200")
    detail.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='timeline']").click()
    folded = detail.locator(".jp-FlyteTimeline-bar.jp-mod-folded")
    folded.wait_for()  # 199 children past the sidebar's 60 rows: one row
    assert "×199" in (folded.locator(".jp-FlyteTimeline-label").text_content() or "")
    _shot(page, "71-panel-timeline-200-dark")
    _light(page)
    _shot(page, "72-panel-timeline-200")
    detail.locator(".jp-FlyteOpenMain").click()
    view = page.locator(".jp-FlyteRunView .jp-FlyteDetail-main")
    view.wait_for()
    view.locator(".jp-FlyteViewTabs .jp-FlyteTab[data-view='timeline']").click()
    view.locator(".jp-FlyteTimeline-bar").nth(150).wait_for()
    assert view.locator(".jp-FlyteTimeline-bar").count() == 200  # the main area's 200 rows: none folded
    _shot(page, "73-main-timeline-200")

    # zoom: + halves the window, a drag across the track picks one, "whole run" goes back
    window = view.locator(".jp-FlyteTimeline-window")
    full = float(window.get_attribute("data-hi") or 0)
    assert full > 0 and window.get_attribute("data-lo") == "0"
    view.locator(".jp-FlyteTimeline-zoomIn").click()
    page.wait_for_function("(el) => el.innerText.includes(' of ')", arg=window.element_handle())
    lo, hi = float(window.get_attribute("data-lo") or 0), float(window.get_attribute("data-hi") or 0)
    assert abs((hi - lo) - full / 2) < 1e-3 * full + 1e-6, (lo, hi, full)
    box = view.locator(".jp-FlyteTimeline-svg").bounding_box()
    root = _widest_box(view.locator(".jp-FlyteTimeline-bar[data-key='a0'] .jp-FlyteTimeline-seg"))
    page.mouse.move(root["x"] + 0.1 * root["width"], box["y"] + 40)
    page.mouse.down()
    page.mouse.move(root["x"] + 0.3 * root["width"], box["y"] + 60, steps=5)
    page.mouse.up()
    page.wait_for_function("([el, hi]) => Number(el.dataset.hi) < hi", arg=[window.element_handle(), hi])
    lo2, hi2 = float(window.get_attribute("data-lo") or 0), float(window.get_attribute("data-hi") or 0)
    assert lo <= lo2 < hi2 < hi and (hi2 - lo2) < (hi - lo) / 2, (lo, hi, lo2, hi2)
    # only what the window shows: fewer bars whenever some action lies wholly outside it (children
    # that all run at once can each overlap any window within the root's span)
    acts = _get(lab, "runs/wide200")["actions"]
    origin = min(a.get("queued_at") or a["started_at"] for a in acts)
    outside = [a["name"] for a in acts if (a.get("queued_at") or a["started_at"]) - origin >= hi2
               or (a.get("ended_at") or math.inf) - origin <= lo2]
    bars = view.locator(".jp-FlyteTimeline-bar").count()
    assert bars <= 200 and (not outside or bars < 200), (bars, lo2, hi2, outside[:5])
    _shot(page, "73b-main-timeline-200-zoomed")
    view.locator(".jp-FlyteTimeline-zoomReset").click()
    page.wait_for_function("(el) => el.dataset.lo === '0'", arg=window.element_handle())
    view.locator(".jp-FlyteTimeline-bar").nth(199).wait_for()
    _dark(page)
    _shot(page, "74-main-timeline-200-dark")
    assert page.errors == []
    page.close()
