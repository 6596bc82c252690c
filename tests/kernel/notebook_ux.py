"""What the two data-scientist notebooks (local and against a backend) share: the tasks they run,
the helpers the kernel defines to look inside its views, and readers of the saved widget state."""

from __future__ import annotations

import re
from typing import Any

from kernel_helpers import tree_models, widget_states

_COMMON_TASKS = '''
import asyncio, os, tempfile, time
import flyte_jupyter as flyte

env = flyte.TaskEnvironment("{env}")

@env.task
async def trial(lr: float, i: int) -> float:
    print(f"trial {{i}} says hi")
    return lr * i

@env.task
async def sweep(n: int) -> float:
    return sum(await asyncio.gather(*[trial(lr=0.05, i=i) for i in range(n)]))

@env.task
def broken(x: int) -> int:
    zero = x - x
    return x // zero

@env.task
async def middle(x: int) -> int:
    return await broken(x)

@env.task
async def top(x: int) -> int:
    return await middle(x)

@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.3))
def third_time_lucky(key: str) -> str:
    path = os.path.join(tempfile.gettempdir(), f"flyte-{env}-{{key}}")
    tries = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(tries))
    print(f"attempt number {{tries}}")
    if tries < 3:
        raise ValueError(f"not yet ({{tries}})")
    return "made it"

@env.task
def bar() -> str:
    import sys
    for pct in range(0, 101, 20):
        sys.stderr.write(f"\\r{{pct:3d}}%|{{'#' * (pct // 10):<10}}|")
        sys.stderr.flush()
        time.sleep(0.02)
    sys.stderr.write("\\n")
    print("bar done")
    return "ok"
'''


def tasks_cell(env: str, extra: str = "") -> str:
    """The tasks cell: the tasks both notebooks run, in environment `env`, then `extra`."""
    return _COMMON_TASKS.format(env=env) + extra


# Defined in the kernel: the newest view of a run, a child's name by task, an action's details HTML.
INSPECT = '''
import json
from flyte_jupyter.kernel import views

def view_of(name):
    return [v for v in views() if v.run.name == name][-1]

def child(name, task):
    return next(a.name for a in view_of(name).run.actions.values() if a.task == task)

def details(name, action):
    v = view_of(name)
    if action not in v._expanded:
        v.toggle(action)
    v.render_now()
    v.render_now()
    return v._rows[action].details.value
'''


def stream_text(cell: Any) -> str:
    """What a cell printed (its stream outputs)."""
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def panes(nb: Any) -> dict[str, dict[str, Any]]:
    """run name -> the state of its output pane (from the saved widget state)."""
    states = widget_states(nb)
    out: dict[str, dict[str, Any]] = {}
    # panes sit beside their tree in the view's VBox: walk the views
    for st in states.values():
        state = st.get("state", {})
        if "flyte-run-view" not in state.get("_dom_classes", []):
            continue
        models = [states.get(k.replace("IPY_MODEL_", ""), {}).get("state", {}) for k in state.get("children", [])]
        tree = next((m for m in models if "nodes" in m), None)
        pane = next((m for m in models if "total_lines" in m), None)
        if tree is not None and pane is not None:
            out[tree["run_name"]] = pane
    return out


def tree_of(nb: Any, run: str) -> dict[str, Any]:
    """The state of the newest action tree of `run`."""
    return [t for t in tree_models(nb) if t["run_name"] == run][-1]


_ROW = re.compile(r'<div class="flyte-(action|group)"([^>]*)>')
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')


def row_attributes(nb: Any) -> list[dict[str, str]]:
    """The attributes of every action and group row the saved widgets render (their HTML)."""
    rows = []
    for st in widget_states(nb).values():
        value = st.get("state", {}).get("value")
        if isinstance(value, str):
            for kind, attrs in _ROW.findall(value):
                rows.append({"kind": kind, **dict(_ATTR.findall(attrs))})
    return rows
