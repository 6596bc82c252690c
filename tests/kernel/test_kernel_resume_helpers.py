"""Resume counts a task as changed when a notebook helper it calls changed (nbclient, a real kernel,
the embedded backend): the steps that call the changed helper run again, the others are recovered."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_helpers import cell_text, errors, run_notebook_on_backend

TASKS = '''
import asyncio
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("helpers")
BONUS = 0

def bump(i):
    return i + 1 + BONUS

@env.task
async def step(i: int) -> int:
    return bump(i)

@env.task
async def plain(i: int) -> int:
    return i * 2

@env.task
async def finish(total: int) -> int:
    raise ValueError("finish is broken")

@env.task
async def pipeline(n: int) -> int:
    parts = await asyncio.gather(*[step(i) for i in range(n)], *[plain(i) for i in range(n)])
    return await finish(sum(parts))
'''

FIX = '''
def bump(i):
    return i + 100 + BONUS

@env.task
async def finish(total: int) -> int:
    return total
'''

CELLS = [
    "%load_ext flyte_jupyter",
    TASKS,
    "src = %flyte run --name nb-helpers-src pipeline --n 3\nsrc.wait(120); print(src.phase)",
    FIX,
    ("%flyte resume nb-helpers-src --out resumed\n"
     "resumed.wait(120)\n"
     "print('outputs', resumed.outputs())\n"
     "print('phases', sorted((a.task, a.phase.value) for a in resumed.actions.values()))"),
]


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_notebook_on_backend(CELLS, tmp_path_factory.mktemp("resume-helpers-nb"))


def test_a_changed_helper_makes_the_tasks_that_call_it_run_again(nb: Any) -> None:
    assert "FAILED" in cell_text(nb.cells[2])
    text = cell_text(nb.cells[4])
    assert not errors(nb.cells[4]), text
    # bump changed: step runs again with the new helper; plain does not call it and is recovered
    assert "outputs " + str(sum(i + 100 for i in range(3)) + sum(i * 2 for i in range(3))) in text, text
    phases = text.split("phases ", 1)[1].splitlines()[0]
    assert phases.count("('helpers.step', 'SUCCEEDED')") == 3, phases
    assert phases.count("('helpers.plain', 'RECOVERED')") == 3, phases
