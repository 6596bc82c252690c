"""Resume a failed run with the notebook's fixed code (nbclient, a real kernel, the embedded backend)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from kernel_helpers import cell_text, errors, run_notebook_on_backend

TASKS = '''
import asyncio
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("resumable", env_vars={"RESUME_HINT": "yes"})

@env.task
async def step(i: int) -> int:
    return [i + 1 for _ in range(1)][0]

@env.task
async def finish(total: int) -> int:
    raise ValueError("finish is broken")

@env.task
async def pipeline(n: int) -> int:
    parts = await asyncio.gather(*[step(i) for i in range(n)])
    return await finish(sum(parts))
'''

FIX = '''
@env.task
async def finish(total: int) -> int:
    return total * 10
'''

DIVIDE = '''
a, b = "not", "yet"

@env.task
async def divide(a: int, b: int) -> float:
    ratio = a / b
    return ratio

@env.task
async def outer(xs: list[int]) -> float:
    return sum([await divide(10, x) for x in xs])
'''

# pdb's post-mortem on the traceback `%debug` uses, driven by a script instead of a keyboard
POST_MORTEM = '''
import io, pdb, sys
print("bound", a, b)
out = io.StringIO()
debugger = pdb.Pdb(stdin=io.StringIO("p (a, b)\\nq\\n"), stdout=out)
debugger.use_rawinput = False
debugger.reset()
debugger.interaction(None, sys.last_traceback)
print(out.getvalue())
'''

HOG = '''
import re

@env.task
def hog(mb: int) -> int:
    block = bytearray(mb * 1024 * 1024)
    for k in range(0, len(block), 4096):
        block[k] = 1
    return len(block) // (1024 * 1024)
'''

CELLS = [
    "%load_ext flyte_jupyter",                                                         # 0
    TASKS,                                                                             # 1
    "src = %flyte run --name nb-resume-src pipeline --n 6",                            # 2
    "src.wait(120); print(src.phase)",                                                 # 3
    "%flyte resume nb-resume-src --out early",                                         # 4 (the task is still broken)
    "early.wait(120); print('early', early.phase)",                                    # 5
    FIX,                                                                               # 6
    "%flyte resume nb-resume-src --out resumed",                                       # 7
    ("resumed.wait(120)\n"
     "print('outputs', resumed.outputs())\n"
     "acts = resumed.actions.values()\n"
     "print('phases', sorted((a.task, a.phase.value) for a in acts))\n"
     "print('origins', sorted({a.recovered_from.split('/')[0] for a in acts if a.recovered_from}))\n"
     "from flyte_jupyter.kernel import views\n"
     "view = [v for v in views() if v.run.name == resumed.name][-1]\n"
     "view.finish()\n"
     "print('tree', sorted(n['phase'] for n in view.tree.nodes))\n"
     "print('rows', sum(str(n.get('recovered_from')).startswith('nb-resume-src/') for n in view.tree.nodes))\n"
     "print('keys', sorted(view.tree.nodes[0]))"),  # 8
    "%flyte resume?",                                                                  # 9
    "%flyte resume nb-no-such-run",                                                    # 10
    "%flyte resume {resumed.name}",                                                    # 11 (it succeeded)
    DIVIDE,                                                                            # 12
    ("bad = %flyte run --name nb-debug-src outer --xs [2,0]\n"
     "bad.wait(120)\n"
     "failed = next(a.name for a in bad.actions.values() if a.task == 'resumable.divide' and a.phase.value == 'FAILED')\n"
     "del a, b"),                                                                     # 13
    "%flyte debug nb-debug-src {failed}",                                              # 14
    POST_MORTEM,                                                                       # 15
    "import os; print('hint', os.environ.get('RESUME_HINT'))",                         # 16
    "%flyte debug nb-debug-src {failed} --env",                                       # 17
    "print('hint', os.environ.get('RESUME_HINT'))",                                    # 18
    "%flyte debug?",                                                                   # 19
    ("from flyte_jupyter.kernel import views\n"
     "srcview = [v for v in views() if v.run.name == 'nb-resume-src'][0]\n"
     "srcview.render_now()\n"
     "print('resume shown', srcview.resume.button.layout.display != 'none')\n"
     "srcview.resume.button.click()\n"
     "new = srcview.resume.resumed\n"
     "new.wait(120)\n"
     "print('clicked', new.name != 'nb-resume-src', new.phase.value,\n"
     "      [a.phase.value for a in new.actions.values()].count('RECOVERED'))\n"
     "okview = [v for v in views() if v.run.name == resumed.name][-1]\n"
     "okview.render_now()\n"
     "print('resume on a success', okview.resume.button.layout.display)"),              # 20
    ("a = b = None\n"
     "badview = [v for v in views() if v.run.name == 'nb-debug-src'][-1]\n"
     "badview.toggle(failed)\n"
     "badview.render_now()\n"
     "badview._debug_buttons[failed].click()\n"
     "print('debug clicked', a, b, sys.last_type.__name__)"),                          # 21
    HOG,                                                                               # 22
    ("from flyte_jupyter.kernel._details import cost_html\n"
     "hogrun = %flyte run --name nb-hog hog --mb 200\n"
     "hogrun.wait(120)\n"
     "print('cost', cost_html(hogrun.actions['a0']))\n"
     "hogview = [v for v in views() if v.run.name == 'nb-hog'][-1]\n"
     "hogview.render_now()\n"
     "hogview.tabs.value = 'timeline'\n"
     "print('hog tip', re.findall(r'peak memory ([0-9.]+) MiB', hogview.timeline.svg.value))"),  # 23
    ("import re\n"
     "view = [v for v in views() if v.run.name == resumed.name][-1]\n"
     "view.tabs.value = 'timeline'\n"
     "svg = view.timeline.svg.value\n"
     "print('tab', repr(view.tree.layout.display), repr(view.timeline.widget.layout.display),\n"
     "      svg.count('class=\"flyte-seg'), 'RECOVERED from nb-resume-src/' in svg)\n"
     "view.tabs.value = 'tree'\n"
     "print('back', repr(view.tree.layout.display), repr(view.timeline.widget.layout.display))\n"
     "print(repr(resumed.timeline()))"),                                              # 24
    "%flyte debug nb-debug-src a0",                                                    # 25 (children here)
    "import sys; print('local', sys.last_type.__name__)",                             # 26
    "%flyte debug nb-debug-src a0 --remote",                                           # 27 (children on the backend)
    "print('remote', sys.last_type.__name__)",                                         # 28
]


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_notebook_on_backend(CELLS, tmp_path_factory.mktemp("resume-nb"))


def test_the_source_run_fails(nb: Any) -> None:
    assert "FAILED" in cell_text(nb.cells[3])


def test_resume_before_the_fix_recovers_the_steps_and_fails_again(nb: Any) -> None:
    assert not errors(nb.cells[4]), cell_text(nb.cells[4])
    assert "early FAILED" in cell_text(nb.cells[5])


def test_resume_after_the_fix_runs_only_the_changed_task(nb: Any) -> None:
    assert not errors(nb.cells[7]), cell_text(nb.cells[7])
    text = cell_text(nb.cells[8])
    assert "outputs 210" in text, text  # (1 + ... + 6) * 10
    phases = text.split("phases ", 1)[1].splitlines()[0]
    assert phases.count("('resumable.step', 'RECOVERED')") == 6, phases
    assert "('resumable.finish', 'SUCCEEDED')" in phases and "('resumable.pipeline', 'SUCCEEDED')" in phases
    assert "origins ['nb-resume-src']" in text


def test_the_tree_shows_recovered_actions_linked_to_the_source(nb: Any) -> None:
    text = cell_text(nb.cells[8])
    tree = text.split("tree ", 1)[1].splitlines()[0]
    assert tree.count("'RECOVERED'") == 6, text
    assert "rows 6" in text, text


def test_resume_help_and_errors(nb: Any) -> None:
    assert "usage: %flyte resume" in cell_text(nb.cells[9]) or "flyte resume" in cell_text(nb.cells[9])
    assert "does not exist" in cell_text(nb.cells[10])
    assert "only a failed or aborted run can be resumed" in cell_text(nb.cells[11])


def test_debug_binds_the_inputs_and_post_mortem_stops_on_the_raising_line(nb: Any) -> None:
    assert not errors(nb.cells[13]), cell_text(nb.cells[13])
    debug = cell_text(nb.cells[14])
    assert [e.ename for e in errors(nb.cells[14])] == ["ZeroDivisionError"], debug
    assert "a = 10" in debug and "b = 0" in debug
    assert "RESUME_HINT=yes" in debug and "not applied" in debug and "secrets are not fetched" in debug
    pm = cell_text(nb.cells[15])
    assert not errors(nb.cells[15]), pm
    assert "bound 10 0" in pm
    assert "divide()" in pm, pm
    assert re.search(r"-> *\d*\s+ratio = a / b", pm), pm  # the current line: the one that raised
    assert "(10, 0)" in pm


def test_debug_applies_env_vars_only_with_env(nb: Any) -> None:
    assert "hint None" in cell_text(nb.cells[16])
    assert "applied" in cell_text(nb.cells[17]) and "not applied" not in cell_text(nb.cells[17])
    assert "hint yes" in cell_text(nb.cells[18])
    assert "flyte debug" in cell_text(nb.cells[19]) and "--env" in cell_text(nb.cells[19])


def test_the_widget_buttons_resume_and_debug(nb: Any) -> None:
    text = cell_text(nb.cells[20])
    assert not errors(nb.cells[20]), text
    assert "resume shown True" in text
    assert "clicked True SUCCEEDED 6" in text
    assert "resume on a success none" in text
    text = cell_text(nb.cells[21])
    assert not errors(nb.cells[21]), text
    assert "debug clicked 10 0 ZeroDivisionError" in text


def test_cost_per_attempt_in_the_details_and_the_timeline_tooltip(nb: Any) -> None:
    text = cell_text(nb.cells[23])
    assert not errors(nb.cells[23]), text
    cost = text.split("cost ", 1)[1].splitlines()[0]
    assert "attempt 1: CPU" in cost
    mib = float(re.search(r"peak memory ([0-9.]+) MiB", cost).group(1))  # type: ignore[union-attr]
    assert mib >= 200
    tips = re.search(r"hog tip \[(.*)\]", text).group(1)  # type: ignore[union-attr]
    assert tips and all(float(x.strip("' ")) >= 200 for x in tips.split(","))


def test_the_timeline_tab_beside_the_tree(nb: Any) -> None:
    text = cell_text(nb.cells[24])
    assert not errors(nb.cells[24]), text
    tab = text.split("tab ", 1)[1].splitlines()[0].split()
    assert tab[0] == "'none'" and tab[1] == "''" and int(tab[2]) >= 8 and tab[3] == "True", tab
    assert "back '' 'none'" in text
    assert "critical path" in text and "6 actions recovered from an earlier run" in text


def test_the_widget_text_fallback_summarises_the_critical_path(nb: Any) -> None:
    shown = [o for o in nb.cells[7].outputs if "data" in o and "application/vnd.jupyter.widget-view+json" in o.data]
    assert shown
    text = shown[0].data["text/plain"]
    assert "SUCCEEDED" in text and "Timeline of run" in text and "critical path" in text
    assert "pipeline [a0] SUCCEEDED" in text and "6 actions recovered from an earlier run" in text


def test_debug_runs_child_calls_here_or_with_remote_on_the_backend(nb: Any) -> None:
    here = cell_text(nb.cells[25])
    assert "tasks it calls run in local mode, here" in here and "xs = [2, 0]" in here
    assert "local ZeroDivisionError" in cell_text(nb.cells[26])  # the child's own frame, in this kernel
    remote = cell_text(nb.cells[27])
    assert "on the backend, each as a run of its own" in remote
    assert remote.count("resumable.divide runs on the backend as run ") == 2, remote
    assert "remote ZeroDivisionError" in cell_text(nb.cells[28])  # the remote child's failure, as its class
