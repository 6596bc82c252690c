"""Deploying from notebooks (issue 13), in real kernels (nbclient) against a real backend process:
the same cells deployed again from a new session under the same version are the same version
(the pickle's bytes differ, here through a set's hash order, its code fingerprint does not); changed code, even only a global a
task reads, is refused; running the deployed task where a differently defined one lives says so
in one line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernel"))

from kernel_helpers import cell_text, make_kernel_env, run_notebook  # noqa: E402

SETUP = "import flyte_jupyter as flyte\nflyte.init_from_config({config!r}, project='p-nbdep', domain='staging')"
TASKS = '''
SCALE = {scale}
env = flyte.TaskEnvironment(name="nbdep")


def helper(x):
    return x * SCALE


@env.task
async def triple(x: int) -> int:
    # a set of strings pickles in hash order, which differs from one session to the next
    return helper(x) + len({{"alpha", "beta", "gamma"}}) - 3{extra}
'''
DEPLOY = ("try:\n    print(flyte.deploy(env, version='v1')[0].summary_repr())\n"
          "except flyte.errors.DeploymentError as exc:\n    print('refused:', exc)")
RUN = ("deployed = flyte.remote.Task.get('nbdep.triple', version='v1')\n"
       "print('result', flyte.run(deployed, x=2).outputs())")


def _session(backend, tmp_path: Path, label: str, scale: int, extra: str = "", run: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    cells = [SETUP.format(config=str(backend.client_yaml)), TASKS.format(scale=scale, extra=extra), DEPLOY]
    if run:
        cells.append(RUN)
    work = tmp_path / label
    work.mkdir()
    nb = run_notebook(cells, work, make_kernel_env(work), timeout=240)
    return [cell_text(c) for c in nb.cells]


def test_the_same_notebook_deployed_from_a_new_session_is_the_same_version(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = _session(flyte_backend, tmp_path, "one", scale=3)
    assert "1 registered, 0 unchanged" in first[2], first[2]
    second = _session(flyte_backend, tmp_path, "two", scale=3, run=True)
    assert "0 registered, 1 unchanged" in second[2], second[2]
    assert re.search(r"result\s+6", second[3]) and "note:" not in second[3], second[3]  # defined the same: no notice

    changed = _session(flyte_backend, tmp_path, "three", scale=4, run=True)  # only a global the task reads
    assert "refused:" in changed[2] and "ALREADY_EXISTS" in changed[2], changed[2]
    assert re.search(r"result\s+6", changed[3]), changed[3]  # the registered code ran (SCALE = 3)

    # The one-line notice: this kernel defines the task differently from the deployed version.
    edited = _session(flyte_backend, tmp_path, "four", scale=3, extra=" + 1", run=True)
    assert "refused:" in edited[2], edited[2]
    notes = [line for line in edited[3].splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "defined differently in this process" in notes[0], edited[3]
    assert "deployed version v1 in p-nbdep/staging" in notes[0] and re.search(r"result\s+6", edited[3])
